/**
 * Pool benchmark: six PALM devices on this machine (network namespaces when root, loopback
 * otherwise), one `palm mount` and five `palm serve`, default 4-of-6, 4 MiB stripes, against one
 * device alone (`palm mount`, same settings) in the same run, workloads interleaved:
 *   - sequential write of 512 MiB (dd bs=1M, timed to dd's exit so the close is included), then a
 *     cold read (page cache dropped, the mount daemons restarted so PALM's stripe cache is empty)
 *   - the same cold read with 2 serving devices killed (kill -9): degraded
 *   - 5,000 files of 4 KiB: create (write + close) one after another, then a cold read of all
 * Where the time goes: the mount daemon's per-phase counters (`palm status --json` → place) are
 * printed per phase; `--profile` also runs it under `node --cpu-prof` and prints the top functions
 * by self time per phase.
 * `node bench/run.mjs pool [--quick] [--profile]` → table + bench/results/pool.json ({ pool, single, ratio } per metric).
 * `node bench/run.mjs pool --vs gluster [--quick]` (root) runs the side-by-side comparison with GlusterFS,
 * one PALM device and bindfs instead (bench/lib/vs-gluster.ts) → bench/results/pool-vs-gluster.json.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dropCaches, median, randomBuffers, reportPaired, seconds, timeProcess, writeRandomFile, type PairedMetric } from './lib/measure.js'
import { servePalm, type Served } from './lib/mounts.js'
import { compareWithGluster } from './lib/vs-gluster.js'
import { busyMs, phaseLine, Scope, startPool, topFunctions } from './lib/pool.js'

const QUICK = process.argv.includes('--quick')
const PROFILE = process.argv.includes('--profile')
/** `--durability=spread|local` runs the pool under another durability rule (default all). */
const DURABILITY = process.argv.find(a => a.startsWith('--durability='))?.split('=')[1] ?? 'all'
const SEQ_MIB = QUICK ? 128 : 512
const FILES = QUICK ? 1000 : 5000
const FILE_BYTES = 4096

async function main (): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'palm-bench-pool-'))
  const shm = mkdtempSync('/dev/shm/palm-bench-pool-')
  const seqSrc = join(shm, 'seq.bin')
  writeRandomFile(seqSrc, SEQ_MIB)
  const smallData = randomBuffers(FILES, FILE_BYTES)
  const scope = new Scope()
  const m: Record<string, PairedMetric> = {}
  const metric = (key: string, unit: string): PairedMetric => (m[key] ??= { key, unit, a: [], b: [] })
  const phases: string[] = []
  let single: Served | undefined
  let namespaces = false
  let failed = false
  try {
    const started = await startPool(scope, root, { durability: DURABILITY, profile: PROFILE })
    const pool = started.pool
    namespaces = started.namespaces
    const singleHome = join(root, 'single')
    single = await servePalm(singleHome, join(root, 'single-mnt'), { init: [] })
    const restartSingle = async (): Promise<void> => {
      await single?.stop()
      single = await servePalm(singleHome, join(root, 'single-mnt'))
    }
    const sides = (): Array<['a' | 'b', string]> => [['a', pool.mnt], ['b', single?.dir ?? '']]

    for (const [side, dir] of sides()) metric('seqWriteMBps', 'MB/s')[side].push(SEQ_MIB * 1.048576 / timeProcess('dd', [`if=${seqSrc}`, `of=${join(dir, 'seq')}`, 'bs=1M']))
    phases.push(phaseLine('seq write', await pool.restartMount(5)))
    await restartSingle()
    for (const [side, dir] of sides()) {
      dropCaches()
      metric('seqReadMBps', 'MB/s')[side].push(SEQ_MIB * 1.048576 / timeProcess('dd', [`if=${join(dir, 'seq')}`, 'of=/dev/null', 'bs=1M']))
    }
    // Degraded: two serving devices die; the single device has no such case, so it reads cold again.
    for (const name of ['b5', 'b6']) await pool.procs.get(name)?.kill('SIGKILL')
    await pool.waitOnline(3)
    phases.push(phaseLine('seq read', await pool.restartMount(3)))
    await restartSingle()
    for (const [side, dir] of sides()) {
      dropCaches()
      metric('degradedReadMBps', 'MB/s')[side].push(SEQ_MIB * 1.048576 / timeProcess('dd', [`if=${join(dir, 'seq')}`, 'of=/dev/null', 'bs=1M']))
      rmSync(join(dir, 'seq'))
    }
    for (const name of ['b5', 'b6']) await pool.startServer(name)
    await pool.waitOnline(5)
    phases.push(phaseLine('degraded read', await pool.restartMount(5)))
    for (const [side, dir] of sides()) {
      const small = join(dir, 'small')
      mkdirSync(small)
      metric('createPerSec', 'files/s')[side].push(FILES / await seconds(() => { for (let i = 0; i < FILES; i++) writeFileSync(join(small, `f${i}`), smallData[i]) }))
    }
    phases.push(phaseLine('small create', await pool.restartMount(5)))
    await restartSingle()
    for (const [side, dir] of sides()) {
      dropCaches()
      const small = join(dir, 'small')
      metric('readSmallPerSec', 'files/s')[side].push(FILES / await seconds(() => { for (let i = 0; i < FILES; i++) readFileSync(join(small, `f${i}`)) }))
      rmSync(small, { recursive: true })
    }
    phases.push(phaseLine('small read', await pool.restartMount(5)))
  } catch (err) {
    console.error(`the benchmark failed; last lines of the mount daemon's log:\n${readFileSync(join(root, 'b1.log'), 'utf8').split('\n').slice(-40).join('\n')}`)
    failed = true
    throw err
  } finally {
    await single?.stop()
    await scope.close()
    if (failed) {
      rmSync(root, { recursive: true, force: true })
      rmSync(shm, { recursive: true, force: true })
    }
  }
  console.log(`\nmount daemon of the pool, per phase (ms summed over concurrent stripes):\n${phases.join('\n')}`)
  if (PROFILE) {
    // One profile per thread: CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main one.
    const dir = join(root, 'profiles')
    const files = readdirSync(dir).filter(f => f.endsWith('.cpuprofile'))
    const pids = [...new Set(files.map(f => f.split('.')[3]))].sort((a, b) => statSync(join(dir, files.find(f => f.split('.')[3] === a) ?? '')).mtimeMs - statSync(join(dir, files.find(f => f.split('.')[3] === b) ?? '')).mtimeMs)
    const names = ['seq write', 'seq read', 'degraded read', 'small create', 'small read']
    pids.slice(0, names.length).forEach((pid, i) => {
      const mine = files.filter(f => f.split('.')[3] === pid)
      const main = mine.find(f => f.split('.')[4] === '0')
      const workers = mine.filter(f => f !== main).map(f => busyMs(join(dir, f)))
      console.log(`\nCPU profile of the mount daemon, ${names[i]} (chunk workers busy ${workers.map(ms => `${ms.toFixed(0)} ms`).join(', ')}); main thread:`)
      if (main != null) console.log(topFunctions(join(dir, main), 12).join('\n'))
    })
  }
  rmSync(root, { recursive: true, force: true })
  rmSync(shm, { recursive: true, force: true })
  reportPaired(DURABILITY === 'all' ? 'pool' : `pool-${DURABILITY}`, ['pool', 'single'], Object.values(m), {
    seqMiB: SEQ_MIB,
    files: FILES,
    fileBytes: FILE_BYTES,
    devices: namespaces ? '6 devices in network namespaces (one mount, five serve), one bridge' : '6 devices on loopback (one mount, five serve)',
    pool: `policy 4-of-6, 4 MiB stripes, durability ${DURABILITY}, default caches; degraded = 2 serving devices killed with SIGKILL`,
    single: 'one device alone (same settings): all 6 fragments local; its degraded figure is a second cold read',
    targets: { degradedReadMBps: '≥ 0.8 × pool seqReadMBps', createPerSec: '≥ 0.5 × single' }
  })
  const poolFigure = (k: string): number => median(m[k]?.a ?? [NaN])
  console.log(`\ndegraded / healthy pool read: ${(poolFigure('degradedReadMBps') / poolFigure('seqReadMBps')).toFixed(2)} (target ≥ 0.8)`)
}

const vs = process.argv.find(a => a.startsWith('--vs='))?.slice('--vs='.length)
if (vs === 'gluster') await compareWithGluster()
else if (vs != null) { console.error(`bench pool --vs ${vs}: the only comparison is --vs gluster`); process.exit(2) } else await main()
