/**
 * FUSE binding benchmark: the in-memory test file system (test/helpers/memfs.ts) served on PALM's
 * binding in a child process, against bindfs (C on libfuse 2) over a tmpfs directory, in the same
 * run and interleaved round by round (the machine is shared: medians of the rounds are kept).
 * Sequential write and read MB/s (dd bs=1M; the write overwrites an existing file so neither side
 * pays for fresh memory), then 5,000 small files of 4 KiB: creates/s, stat/s, reads/s. Both mounts
 * use entry_timeout=0,attr_timeout=0 so every operation reaches the file system, neither asks the
 * kernel for permission checks (bindfs does not), and both get 1 MiB kernel readahead (root).
 * Also records the serving process's CPU time per operation and the binding's request counters.
 * `node bench/run.mjs binding [--quick]` → table + bench/results/binding.json.
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findMount, recoverStaleMount, type FuseSessionStats } from '../native/fuse/index.js'
import { requireTools } from './lib/mounts.js'

const QUICK = process.argv.includes('--quick')
const ROUNDS = QUICK ? 1 : 5
const SEQ_MIB = QUICK ? 256 : 1024
const FILES = 5000
const FILE_BYTES = 4096
/** bindfs 1.14.7 is built on libfuse 2: big_writes lifts its 4 KiB writes to 128 KiB (its limit). */
const BINDFS_OPTS = 'big_writes,entry_timeout=0,attr_timeout=0,negative_timeout=0'
/** `--threads=N`: fuse threads for the binding (default: the binding's default). */
const THREADS = ((a) => a == null ? undefined : Number(a.split('=')[1]))(process.argv.find(a => a.startsWith('--threads=')))
/** `--flush`: the test file system implements flush (one more round trip per close, as PALM's VFS). */
const FLUSH = process.argv.includes('--flush')
/** The binding's mount: the same kernel caching and permission model as the bindfs mount. */
const BINDING_OPTS = { entryTimeoutSec: 0, attrTimeoutSec: 0, defaultPermissions: false, readAheadKb: 1024 }
const METRICS = ['seqWriteMBps', 'seqReadMBps', 'createPerSec', 'statPerSec', 'readSmallPerSec'] as const
type Metric = typeof METRICS[number]

interface Target {
  name: 'binding' | 'bindfs'
  dir: string
  pid: number
  child: ChildProcess
  stats?: () => Promise<FuseSessionStats>
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** CPU seconds (user, system) the process has used so far. */
function cpu (pid: number): { user: number, sys: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return { user: Number(f[11]) / 100, sys: Number(f[12]) / 100 }
}

async function waitMounted (dir: string, dev0: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (statSync(dir).dev !== dev0) return
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`${dir} did not get mounted`)
}

async function startBinding (dir: string): Promise<Target> {
  const dev0 = statSync(dir).dev
  const server = fileURLToPath(new URL('../test/helpers/memfs-server.js', import.meta.url))
  // bindfs does not ask the kernel for permission checks: neither does this mount (same requests)
  // and like bindfs, the minimal file system has nothing to flush at close
  const opts = { mount: { ...BINDING_OPTS, threads: THREADS }, fs: { without: FLUSH ? [] : ['flush'] } }
  const child = fork(server, [dir, JSON.stringify(opts)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let id = 0
  const pending = new Map<number, (v: unknown) => void>()
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: { type?: string, id?: number, value?: unknown, message?: string }) => {
      if (m.type === 'ready') resolve()
      else if (m.type === 'error') reject(new Error(m.message))
      else if (m.id != null) pending.get(m.id)?.(m.value)
    })
    child.once('exit', code => { reject(new Error(`memfs server exited (${code})`)) })
  })
  await waitMounted(dir, dev0)
  const stats = async (): Promise<FuseSessionStats> => await new Promise(resolve => {
    const i = ++id
    pending.set(i, v => { resolve((v as { binding: FuseSessionStats }).binding) })
    child.send({ id: i, cmd: 'stats' })
  })
  return { name: 'binding', dir, pid: child.pid as number, child, stats }
}

async function startBindfs (src: string, dir: string): Promise<Target> {
  const dev0 = statSync(dir).dev
  const child = spawn('bindfs', ['-f', '--no-allow-other', '-o', BINDFS_OPTS, src, dir], { stdio: 'inherit' })
  await waitMounted(dir, dev0)
  // the kernel knob the binding sets on its own mount (1 MiB read requests), for bindfs too
  const m = await findMount(dir)
  if (m != null) writeFileSync(`/sys/class/bdi/${m.major}:${m.minor}/read_ahead_kb`, '1024')
  return { name: 'bindfs', dir, pid: child.pid as number, child }
}

async function stop (t: Target): Promise<void> {
  if (t.child.exitCode === null) {
    const exited = new Promise(resolve => t.child.once('exit', resolve))
    t.child.kill('SIGTERM')
    await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 5000))])
  }
  if ((await findMount(t.dir))?.fsType.startsWith('fuse') === true) await recoverStaleMount(t.dir)
  if (t.child.exitCode === null) t.child.kill('SIGKILL')
}

/** Seconds dd reports for one run. */
function dd (args: string[]): number {
  const r = spawnSync('dd', args, { encoding: 'utf8' })
  const m = /^(\d+) bytes .* copied, ([\d.]+) s/m.exec(r.stderr)
  if (r.status !== 0 || m == null) throw new Error(`dd ${args.join(' ')} failed: ${r.stderr}`)
  return Number(m[2])
}

/** Seconds `fn(i)` takes for i in [from, to). */
function timed (from: number, to: number, fn: (i: number) => void): number {
  const start = performance.now()
  for (let i = from; i < to; i++) fn(i)
  return (performance.now() - start) / 1000
}

interface Sample { value: number, cpuUs: number, requests?: number }

const SLICES = 8
const smallDir = (t: Target, n: number): string => join(t.dir, `small-${n}`)
const DATA = Buffer.alloc(FILE_BYTES, 0x5a)

/** Seconds for slice j of metric k on target t (round n); the work of a metric is SLICES slices. */
function slice (k: Metric, t: Target, n: number, j: number): number {
  const mib = SEQ_MIB / SLICES
  const seq = join(t.dir, 'seq')
  const per = FILES / SLICES
  const f = (i: number): string => join(smallDir(t, n), `f${i}`)
  switch (k) {
    case 'seqWriteMBps': return dd(['if=/dev/zero', `of=${seq}`, 'bs=1M', `count=${mib}`, `seek=${j * mib}`, 'conv=notrunc'])
    case 'seqReadMBps': return dd([`if=${seq}`, 'of=/dev/null', 'bs=1M', `count=${mib}`, `skip=${j * mib}`])
    case 'createPerSec': return timed(j * per, (j + 1) * per, i => { writeFileSync(f(i), DATA) })
    case 'statPerSec': return timed(j * per, (j + 1) * per, i => { statSync(f(i)) })
    case 'readSmallPerSec': return timed(j * per, (j + 1) * per, i => { readFileSync(f(i)) })
  }
}

/**
 * Runs metric k on both targets in SLICES slices, alternating target slice by slice (so a change
 * in machine load hits both alike), and returns each target's rate with its server CPU per unit.
 */
async function measurePair (k: Metric, targets: Target[], n: number): Promise<Sample[]> {
  const units = k.startsWith('seq') ? SEQ_MIB : FILES
  const secs = targets.map(() => 0)
  const cpus = targets.map(() => 0)
  const r0 = await Promise.all(targets.map(async t => await t.stats?.()))
  for (let j = 0; j < SLICES; j++) {
    for (const x of j % 2 === 0 ? [0, 1] : [1, 0]) {
      const c0 = cpu(targets[x].pid)
      secs[x] += slice(k, targets[x], n, j)
      const c1 = cpu(targets[x].pid)
      cpus[x] += (c1.user + c1.sys) - (c0.user + c0.sys)
    }
  }
  const r1 = await Promise.all(targets.map(async t => await t.stats?.()))
  return targets.map((_t, x) => ({
    value: (k.startsWith('seq') ? SEQ_MIB * 1.048576 : FILES) / secs[x],
    cpuUs: cpus[x] * 1e6 / units,
    requests: r0[x] != null && r1[x] != null ? ((r1[x] as FuseSessionStats).requests - (r0[x] as FuseSessionStats).requests) / units : undefined
  }))
}

async function main (): Promise<void> {
  requireTools([['bindfs', 'bindfs'], ['fusermount3', 'fuse3'], ['dd', 'coreutils']])
  const root = mkdtempSync(join(tmpdir(), 'palm-bench-binding-'))
  const src = mkdtempSync('/dev/shm/palm-bench-bindfs-')
  const dirs = { binding: join(root, 'binding'), bindfs: join(root, 'bindfs') }
  mkdirSync(dirs.binding)
  mkdirSync(dirs.bindfs)
  const targets: Target[] = []
  const samples: Record<string, Record<Metric, Sample[]>> = {}
  try {
    targets.push(await startBinding(dirs.binding), await startBindfs(src, dirs.bindfs))
    for (const t of targets) {
      samples[t.name] = { seqWriteMBps: [], seqReadMBps: [], createPerSec: [], statPerSec: [], readSmallPerSec: [] }
      dd(['if=/dev/zero', `of=${join(t.dir, 'seq')}`, 'bs=1M', `count=${SEQ_MIB}`]) // the file the rounds overwrite
    }
    for (let n = 0; n < ROUNDS; n++) {
      for (const t of targets) mkdirSync(smallDir(t, n))
      for (const k of METRICS) {
        const pair = await measurePair(k, targets, n)
        targets.forEach((t, x) => samples[t.name][k].push(pair[x]))
      }
      for (const t of targets) rmSync(smallDir(t, n), { recursive: true })
      console.log(`round ${n + 1}/${ROUNDS} (binding/bindfs): ${METRICS.map(k => `${k} ${samples.binding[k][n].value.toFixed(0)}/${samples.bindfs[k][n].value.toFixed(0)}`).join(', ')}`)
    }
  } finally {
    for (const t of targets) await stop(t)
    rmSync(root, { recursive: true, force: true })
    rmSync(src, { recursive: true, force: true })
  }
  report(samples)
}

function report (samples: Record<string, Record<Metric, Sample[]>>): void {
  const results: Record<string, unknown> = {}
  const rows: string[] = []
  for (const k of METRICS) {
    const b = median(samples.binding[k].map(s => s.value))
    const f = median(samples.bindfs[k].map(s => s.value))
    const cpuB = median(samples.binding[k].map(s => s.cpuUs))
    const cpuF = median(samples.bindfs[k].map(s => s.cpuUs))
    const req = median(samples.binding[k].map(s => s.requests ?? 0))
    results[k] = {
      binding: Math.round(b),
      bindfs: Math.round(f),
      ratio: Math.round((b / f) * 100) / 100,
      runs: { binding: samples.binding[k].map(s => Math.round(s.value)), bindfs: samples.bindfs[k].map(s => Math.round(s.value)) },
      serverCpuUsPerOp: { binding: Math.round(cpuB * 10) / 10, bindfs: Math.round(cpuF * 10) / 10 },
      bindingRequestsPerOp: Math.round(req * 100) / 100
    }
    rows.push(`${k.padEnd(16)} ${b.toFixed(0).padStart(9)} ${f.toFixed(0).padStart(9)} ${(b / f).toFixed(2).padStart(6)}` +
      ` ${cpuB.toFixed(1).padStart(10)} ${cpuF.toFixed(1).padStart(10)} ${req.toFixed(2).padStart(8)}`)
  }
  console.log(`\n${'metric'.padEnd(16)} ${'binding'.padStart(9)} ${'bindfs'.padStart(9)} ${'ratio'.padStart(6)} ${'cpuµs/op B'.padStart(10)} ${'cpuµs/op F'.padStart(10)} ${'req/op'.padStart(8)}`)
  for (const r of rows) console.log(r)
  const file = fileURLToPath(new URL('../../bench/results/binding.json', import.meta.url))
  mkdirSync(fileURLToPath(new URL('../../bench/results/', import.meta.url)), { recursive: true })
  writeFileSync(file, JSON.stringify({
    date: new Date().toISOString(),
    loadavg: loadavg(),
    rounds: ROUNDS,
    seqMiB: SEQ_MIB,
    files: FILES,
    fileBytes: FILE_BYTES,
    bindfsOptions: BINDFS_OPTS,
    bindingOptions: { ...BINDING_OPTS, threads: THREADS ?? 'default (0)', maxWriteBytes: 1048576 },
    fsImplementsFlush: FLUSH,
    readAheadKb: 1024,
    note: 'seq: seqMiB through dd bs=1M in 8 interleaved slices (the write overwrites in place); serverCpuUsPerOp is per MiB for seq, per file otherwise',
    ...results
  }, null, 2) + '\n')
  console.log(`\nwrote ${file}`)
}

await main()
