/**
 * The pool benchmarks' six PALM devices (bench/pool.bench.ts, and the pool side of `--vs gluster`):
 * one `palm mount` and five `palm serve`, in network namespaces when root (loopback otherwise),
 * how to restart or kill them, the mount daemon's per-phase counters, and reading --cpu-prof output.
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { benchEnv, PALM_BIN } from './mounts.js'
import { isMountpoint } from '../../src/daemon/mountinfo.js'
import { recoverStaleMount } from '../../native/fuse/index.js'
import { createLan, lanSkipReason, startDevice, type Lan } from '../../test/lan/harness.js'
import type { Cleanup } from '../../test/helpers/tmp.js'

export const NAMES = ['b1', 'b2', 'b3', 'b4', 'b5', 'b6']

/** Cleanups registered the way test helpers do, run last-first at the end. */
export class Scope implements Cleanup {
  readonly #fns: Array<() => unknown> = []
  after (fn: () => unknown): void { this.#fns.push(fn) }
  async close (): Promise<void> {
    for (const fn of this.#fns.splice(0).reverse()) await Promise.resolve(fn()).catch(err => { console.error('cleanup failed:', err) })
  }
}

export interface Proc {
  pid?: number
  kill: (signal?: NodeJS.Signals) => Promise<void>
}

/** Runs one `palm` command; with `ns`, inside that network namespace (a command that dials other devices). */
export function cli (args: string[], env: NodeJS.ProcessEnv, ns?: string): string {
  const command = [process.execPath, PALM_BIN, ...args]
  const r = ns == null
    ? spawnSync(command[0], command.slice(1), { env, encoding: 'utf8' })
    : spawnSync('nsenter', [`--net=/run/netns/${ns}`, '--', ...command], { env, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`palm ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}

/** The six-device pool: homes, processes, and how to restart or kill them. */
export class Pool {
  readonly root: string
  readonly mnt: string
  readonly homes = new Map<string, string>()
  readonly procs = new Map<string, Proc>()
  readonly #scope: Scope
  readonly #lan?: Lan
  readonly #env: NodeJS.ProcessEnv
  readonly profileDir: string
  readonly #profile: boolean

  constructor (scope: Scope, root: string, lan: Lan | undefined, env: NodeJS.ProcessEnv, profile = false) {
    this.#scope = scope
    this.#profile = profile
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
    if (this.#lan != null) return await startDevice(this.#scope, this.#lan.device(name), command, { env, ready: l => l.startsWith('READY'), readyTimeoutMs: 300_000, logFile })
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
    return { kill, pid: child.pid }
  }

  async startMount (): Promise<void> {
    mkdirSync(this.mnt, { recursive: true })
    if (await isMountpoint(this.mnt)) await recoverStaleMount(this.mnt)
    const nodeArgs = this.#profile ? ['--cpu-prof', `--cpu-prof-dir=${this.profileDir}`] : []
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
      // The join redeems it at the running inviter, so it runs where that device is reachable.
      const code = cli(['invite', '--home', h1], this.#env).trim()
      cli(['join', code, '--home', home, '--name', name], this.#env, this.#lan?.device(name).ns)
      await this.startServer(name)
    }
    await this.waitOnline(NAMES.length - 1)
  }

  online (): number {
    const peers = JSON.parse(cli(['peers', '--home', this.homes.get('b1') ?? '', '--json'], this.#env)) as Array<{ online: boolean }>
    return peers.filter(p => p.online).length
  }

  async waitOnline (count: number, timeoutMs = 300_000): Promise<void> {
    const until = Date.now() + timeoutMs
    while (this.online() !== count) {
      if (Date.now() > until) throw new Error(`the mounting device does not see ${count} devices online within ${timeoutMs} ms`)
      await new Promise(resolve => setTimeout(resolve, 250))
    }
  }

  /** PIDs of the devices' processes (for their CPU time). */
  pids (): number[] {
    return [...this.procs.values()].map(p => p.pid ?? -1).filter(pid => pid > 0)
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

/**
 * Builds and starts the six-device pool under `root` at 4-of-6: in network namespaces (mDNS on
 * their bridge) when this process may make them, on loopback otherwise.
 */
export async function startPool (scope: Scope, root: string, opts: { durability: string, profile?: boolean, env?: Record<string, string> }): Promise<{ pool: Pool, namespaces: boolean }> {
  const namespaces = lanSkipReason() === undefined
  const lan = namespaces ? await createLan(scope, { devices: NAMES }) : undefined
  // Health gossip at PALM's defaults (2 s, offline after 8 s), as a user runs it: at 500 ms each idle
  // device spent ~70 ms of CPU a second on it instead of ~35, CPU the measured workload lost.
  const common = { PALM_DURABILITY: opts.durability, ...opts.env }
  const env = namespaces
    ? benchEnv({ ...common, PALM_MDNS: 'true', PALM_MDNS_TAG: `_palm-${randomBytes(4).toString('hex')}._udp.local`, PALM_LISTEN: '/ip4/0.0.0.0/tcp/0' })
    : benchEnv(common)
  const pool = new Pool(scope, root, lan, env, opts.profile)
  await pool.setUp()
  return { pool, namespaces }
}

/** Top functions by self time in a .cpuprofile, as "ms name (file:line)". */
export function topFunctions (file: string, count: number): string[] {
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
export function busyMs (file: string): number {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Array<{ id: number, callFrame: { functionName: string } }>, samples: number[], timeDeltas: number[] }
  const idle = new Set(p.nodes.filter(n => n.callFrame.functionName === '(idle)').map(n => n.id))
  return p.samples.reduce((sum, id, i) => idle.has(id) ? sum : sum + (p.timeDeltas[i] ?? 0) / 1000, 0)
}

export function phaseLine (phase: string, s: Record<string, number>): string {
  const per = (ms: number, n: number): string => n > 0 ? (ms / n).toFixed(2) : '-'
  return `${phase.padEnd(16)} stripes written ${s.stripesWritten ?? 0} (encode ${per(s.encodeMs, s.stripesWritten)} ms, store ${per(s.storeMs, s.stripesWritten)} ms each), ` +
    `read ${s.stripesRead ?? 0} (fetch ${per(s.fetchMs, s.stripesRead)} ms, decode ${per(s.decodeMs, s.stripesRead)} ms each), hedges ${s.hedges ?? 0}`
}

