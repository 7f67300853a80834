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
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dropCaches, median, randomBuffers, reportPaired, seconds, timeProcess, writeRandomFile, type PairedMetric } from './lib/measure.js'
import { benchEnv, PALM_BIN, servePalm, type Served } from './lib/mounts.js'
import { isMountpoint } from '../src/daemon/mountinfo.js'
import { recoverStaleMount } from '../native/fuse/index.js'
import { createLan, lanSkipReason, startDevice, type Lan } from '../test/lan/harness.js'
import type { Cleanup } from '../test/helpers/tmp.js'

const QUICK = process.argv.includes('--quick')
const PROFILE = process.argv.includes('--profile')
/** `--durability=spread|local` runs the pool under another durability rule (default all). */
const DURABILITY = process.argv.find(a => a.startsWith('--durability='))?.split('=')[1] ?? 'all'
const SEQ_MIB = QUICK ? 128 : 512
const FILES = QUICK ? 1000 : 5000
const FILE_BYTES = 4096
const NAMES = ['b1', 'b2', 'b3', 'b4', 'b5', 'b6']

/** Cleanups registered the way test helpers do, run last-first at the end. */
class Scope implements Cleanup {
  readonly #fns: Array<() => unknown> = []
  after (fn: () => unknown): void { this.#fns.push(fn) }
  async close (): Promise<void> {
    for (const fn of this.#fns.splice(0).reverse()) await Promise.resolve(fn()).catch(err => { console.error('cleanup failed:', err) })
  }
}

interface Proc {
  kill: (signal?: NodeJS.Signals) => Promise<void>
}

function cli (args: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(process.execPath, [PALM_BIN, ...args], { env, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`palm ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

/** The six-device pool: homes, processes, and how to restart or kill them. */
class Pool {
  readonly root: string
  readonly mnt: string
  readonly homes = new Map<string, string>()
  readonly procs = new Map<string, Proc>()
  readonly #scope: Scope
  readonly #lan?: Lan
  readonly #env: NodeJS.ProcessEnv
  readonly profileDir: string

  constructor (scope: Scope, root: string, lan: Lan | undefined, env: NodeJS.ProcessEnv) {
    this.#scope = scope
    this.root = root
    this.mnt = join(root, 'pool-mnt')
    this.#lan = lan
    this.#env = env
    this.profileDir = join(root, 'profiles')
  }

  get env (): NodeJS.ProcessEnv { return this.#env }

  async #start (name: string, args: string[], env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Promise<Proc> {
    const command = [process.execPath, ...nodeArgs, PALM_BIN, ...args]
    const logFile = join(this.root, `${name}.log`)
    if (this.#lan != null) return await startDevice(this.#scope, this.#lan.device(name), command, { env, ready: l => l.startsWith('READY'), readyTimeoutMs: 60_000, logFile })
    const log = openSync(logFile, 'a')
    const child = spawn(command[0], command.slice(1), { env, stdio: ['ignore', 'pipe', log] })
    closeSync(log)
    const exited = new Promise(resolve => child.once('exit', resolve))
    const kill = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
      if (child.exitCode == null && child.signalCode == null) child.kill(signal)
      await exited
    }
    this.#scope.after(async () => { await kill() })
    let out = ''
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('READY')) resolve() })
      void exited.then(() => { reject(new Error(`${name} exited before READY`)) })
    })
    return { kill }
  }

  async startMount (): Promise<void> {
    mkdirSync(this.mnt, { recursive: true })
    if (await isMountpoint(this.mnt)) await recoverStaleMount(this.mnt)
    const nodeArgs = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${this.profileDir}`] : []
    const env = { ...this.#env, DEBUG: 'palm:place*,palm:repair*,palm:fuse,palm:fuse:error' }
    this.procs.set('b1', await this.#start('b1', ['mount', this.mnt, '--home', this.homes.get('b1') ?? '', '--foreground'], env, nodeArgs))
  }

  async startServer (name: string): Promise<void> {
    this.procs.set(name, await this.#start(name, ['serve', '--home', this.homes.get(name) ?? ''], this.#env))
  }

  async setUp (): Promise<void> {
    const h1 = join(this.root, 'b1')
    this.homes.set('b1', h1)
    cli(['init', '--home', h1, '--name', 'b1'], this.#env)
    await this.startMount()
    for (const name of NAMES.slice(1)) {
      const home = join(this.root, name)
      this.homes.set(name, home)
      // One single-use code each; it carries the running device's addresses (no mDNS on loopback).
      const code = cli(['invite', '--home', h1], this.#env).trim()
      cli(['join', code, '--home', home, '--name', name], this.#env)
      await this.startServer(name)
    }
    await this.waitOnline(NAMES.length - 1)
  }

  online (): number {
    const peers = JSON.parse(cli(['peers', '--home', this.homes.get('b1') ?? '', '--json'], this.#env)) as Array<{ online: boolean }>
    return peers.filter(p => p.online).length
  }

  async waitOnline (count: number, timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs
    while (this.online() !== count) {
      if (Date.now() > until) throw new Error(`the mounting device does not see ${count} devices online within ${timeoutMs} ms`)
      await new Promise(resolve => setTimeout(resolve, 250))
    }
  }

  /** The mount daemon's placement counters. */
  placeStats (): Record<string, number> {
    return JSON.parse(cli(['status', '--home', this.homes.get('b1') ?? '', '--json'], this.#env)).place ?? {}
  }

  /** Restarts the mount daemon (empties PALM's stripe cache); returns the counters of the run that ended. */
  async restartMount (onlinePeers: number): Promise<Record<string, number>> {
    const stats = this.placeStats()
    await this.procs.get('b1')?.kill('SIGTERM')
    await this.startMount()
    await this.waitOnline(onlinePeers)
    return stats
  }
}

/** Top functions by self time in a .cpuprofile, as "ms name (file:line)". */
function topFunctions (file: string, count: number): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number } }>, samples: number[], timeDeltas: number[] }
  const byNode = new Map(p.nodes.map(n => [n.id, n.callFrame]))
  const self = new Map<string, number>()
  p.samples.forEach((id, i) => {
    const f = byNode.get(id)
    const key = f == null ? '?' : `${f.functionName === '' ? '(anonymous)' : f.functionName} (${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1})`
    self.set(key, (self.get(key) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000)
  })
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, count).map(([k, ms]) => `${ms.toFixed(0).padStart(7)} ms ${(100 * ms / total).toFixed(1).padStart(5)} %  ${k}`)
}

/** Non-idle time of a thread's profile, ms. */
function busyMs (file: string): number {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Array<{ id: number, callFrame: { functionName: string } }>, samples: number[], timeDeltas: number[] }
  const idle = new Set(p.nodes.filter(n => n.callFrame.functionName === '(idle)').map(n => n.id))
  return p.samples.reduce((sum, id, i) => idle.has(id) ? sum : sum + (p.timeDeltas[i] ?? 0) / 1000, 0)
}

function phaseLine (phase: string, s: Record<string, number>): string {
  const per = (ms: number, n: number): string => n > 0 ? (ms / n).toFixed(2) : '-'
  return `${phase.padEnd(16)} stripes written ${s.stripesWritten ?? 0} (encode ${per(s.encodeMs, s.stripesWritten)} ms, store ${per(s.storeMs, s.stripesWritten)} ms each), ` +
    `read ${s.stripesRead ?? 0} (fetch ${per(s.fetchMs, s.stripesRead)} ms, decode ${per(s.decodeMs, s.stripesRead)} ms each), hedges ${s.hedges ?? 0}`
}

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
  const namespaces = lanSkipReason() === undefined
  let failed = false
  try {
    const lan = namespaces ? await createLan(scope, { devices: NAMES }) : undefined
    const common = { PALM_GOSSIP_INTERVAL: '500ms', PALM_OFFLINE_AFTER: '2500ms', PALM_DURABILITY: DURABILITY }
    const env = namespaces
      ? benchEnv({ ...common, PALM_MDNS: 'true', PALM_MDNS_TAG: `_palm-${randomBytes(4).toString('hex')}._udp.local`, PALM_LISTEN: '/ip4/0.0.0.0/tcp/0' })
      : benchEnv(common)
    const pool = new Pool(scope, root, lan, env)
    await pool.setUp()
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

await main()
