/**
 * Where a small synchronous write goes: fio 4 KiB random writes, each followed by fdatasync (what
 * databases, editors and git do), on the six-device pool (network namespaces when root, 4-of-6,
 * durability all, one `palm mount` and five `palm serve`) against one device alone, in the same
 * run, rounds interleaved; then 200 timed fsyncs of a 4 KiB file on each. Per write it also
 * reports the CPU each process used (from /proc/PID/stat) and the fragment bytes the pool's mount
 * daemon sent (`palm status --json` → place.bytesSent): the work behind each IOPS figure.
 * `node bench/run.mjs fsync [--quick]` → table + bench/results/fsync.json.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { reportPaired, type PairedMetric } from './lib/measure.js'
import { requireTools, servePalm, type Served } from './lib/mounts.js'
import { Scope, startPool } from './lib/pool.js'
import { cpuSeconds, fio, fsyncLatency } from './lib/workload.js'

const QUICK = process.argv.includes('--quick')
const ROUNDS = QUICK ? 1 : 2
const FILE_MIB = 32
const RUNTIME_SEC = QUICK ? 5 : 10
const FSYNCS = QUICK ? 50 : 200

async function main (): Promise<void> {
  requireTools([['fio', 'fio']])
  const root = mkdtempSync(join(tmpdir(), 'palm-bench-fsync-'))
  const scope = new Scope()
  const m: Record<string, PairedMetric> = {}
  const metric = (key: string, unit: string, lowerIsBetter = false): PairedMetric => (m[key] ??= { key, unit, a: [], b: [], lowerIsBetter })
  const cpuByDevice: Record<string, number[]> = {}
  const sentPerWrite: number[] = []
  let single: Served | undefined
  try {
    const { pool, namespaces } = await startPool(scope, root, { durability: 'all' })
    single = await servePalm(join(root, 'single'), join(root, 'single-mnt'), { init: [] })
    const sides: Array<['a' | 'b', string]> = [['a', pool.mnt], ['b', single.dir]]
    for (const [, dir] of sides) spawnSync('dd', ['if=/dev/urandom', `of=${join(dir, 'fio.bin')}`, 'bs=1M', `count=${FILE_MIB}`, 'conv=fsync'])
    const sent = (): number => pool.placeStats().bytesSent ?? 0
    for (let r = 0; r < ROUNDS; r++) {
      for (const [side, dir] of sides) {
        const procs: Array<[string, number]> = side === 'a' ? [...pool.procs].map(([n, p]) => [n, p.pid ?? -1]) : [['single', single.child.pid ?? -1]]
        const before = procs.map(([, pid]) => cpuSeconds([pid]))
        const sentBefore = side === 'a' ? sent() : 0
        const iops = fio(join(dir, 'fio.bin'), FILE_MIB, 'randwrite-fdatasync', RUNTIME_SEC)
        const writes = Math.max(1, iops * RUNTIME_SEC)
        metric('randWriteSyncIops', 'IOPS')[side].push(iops)
        let total = 0
        procs.forEach(([name, pid], i) => {
          const ms = (cpuSeconds([pid]) - before[i]) * 1000 / writes
          total += ms
          if (side === 'a') (cpuByDevice[name] ??= []).push(Math.round(ms * 10) / 10)
        })
        metric('cpuMsPerWrite', 'ms', true)[side].push(total)
        if (side === 'a') sentPerWrite.push(Math.round((sent() - sentBefore) / writes))
        const lat = fsyncLatency(join(dir, 'fsync.bin'), FSYNCS)
        metric('fsyncP50Ms', 'ms', true)[side].push(lat.p50)
        metric('fsyncP99Ms', 'ms', true)[side].push(lat.p99)
      }
    }
    reportPaired('fsync', ['pool', 'single'], Object.values(m), {
      devices: namespaces ? '6 devices in network namespaces (one mount, five serve), one bridge' : '6 devices on loopback (one mount, five serve)',
      pool: 'policy 4-of-6, 4 MiB stripes, durability all, default caches',
      single: 'one device alone (same settings): all 6 fragments local',
      workload: `fio --rw=randwrite --bs=4k --fdatasync=1 --ioengine=psync on a ${FILE_MIB} MiB file laid out by dd, ${RUNTIME_SEC} s per round, ${ROUNDS} rounds per side interleaved; then ${FSYNCS} overwrites of a 4 KiB file each followed by a timed fsync`,
      poolCpuMsPerWriteByDevice: cpuByDevice,
      poolFragmentBytesSentPerWrite: sentPerWrite
    })
    console.log(`pool CPU ms per write by device: ${Object.entries(cpuByDevice).map(([n, v]) => `${n} ${v.join('/')}`).join(', ')}`)
    console.log(`pool fragment bytes sent per 4 KiB write: ${sentPerWrite.join(', ')}`)
  } finally {
    await single?.stop()
    await scope.close()
    rmSync(root, { recursive: true, force: true })
  }
}

await main()
