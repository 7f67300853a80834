/**
 * Helpers that run the real `palm` CLI and daemon as child processes (a process that serves a FUSE
 * mount must never be the one using it). Each `create*`/`start*` registers its own cleanup.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, readFile, stat } from 'node:fs/promises'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTempDir, onCleanup, type Cleanup } from './tmp.js'
import { isMountpoint } from '../../src/daemon/mountinfo.js'
import { daemonEnv } from '../../src/daemon/daemon-env.js'

export const REPO = resolve(fileURLToPath(new URL('../../..', import.meta.url)))
export const PALM_BIN = join(REPO, 'dist', 'src', 'cli', 'main.js')

/**
 * Environment for test devices: no mDNS on the host's real interface, loopback only, and capacities
 * down to 1 MiB (tests fill small devices; users get the 1 GiB minimum).
 */
export function testEnv (extra: Record<string, string> = {}): Record<string, string> {
  return {
    // Daemons run as `palm mount` starts them (huge pages for their buffers).
    ...daemonEnv(process.env) as Record<string, string>,
    PALM_MIN_CAPACITY: '1M',
    PALM_MDNS: 'false',
    PALM_DHT: 'false',
    PALM_LISTEN: '/ip4/127.0.0.1/tcp/0',
    ...extra
  }
}

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs `palm ARGS` to completion (with a timeout) and returns its exit code and output. */
export async function palm (args: string[], options: { env?: Record<string, string>, timeoutMs?: number, input?: string } = {}): Promise<CliResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PALM_BIN, ...args], { env: options.env ?? testEnv(), stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`palm ${args.join(' ')} did not finish within ${options.timeoutMs ?? 60_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, options.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? 1, stdout, stderr }) })
    child.stdin.end(options.input ?? '')
  })
}

/** A fresh initialised home (`palm init`). */
export async function createPalmHome (t: Cleanup, initArgs: string[] = [], env?: Record<string, string>): Promise<string> {
  const dir = await createTempDir(t, 'palm-home-')
  const home = join(dir, 'home')
  const r = await palm(['init', '--home', home, '--name', 'test-device', ...initArgs], { env })
  if (r.code !== 0) throw new Error(`palm init failed: ${r.stderr}`)
  return home
}

/** True when this machine can run FUSE mounts (root or fusermount3, and /dev/fuse). */
export function fuseAvailable (): boolean {
  return existsSync('/dev/fuse') && (existsSync('/usr/bin/fusermount3') || existsSync('/bin/fusermount3'))
}

/**
 * Why a test of the daemon's huge pages (daemon-env.ts) cannot tell anything here, or undefined:
 * only when the kernel gives transparent huge pages on request alone ([madvise]) does asking for
 * them change anything ([always] gives them to every heap, [never] to none).
 */
export function hugePagesUntestable (): string | undefined {
  let mode: string | undefined
  try {
    mode = /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1]
  } catch {
    return 'this kernel has no transparent huge pages'
  }
  return mode === 'madvise' ? undefined : `transparent huge pages are [${String(mode)}] here, not [madvise]: asking for them changes nothing`
}

/** Why FUSE tests must be skipped here, or false. */
export function skipWithoutFuse (): string | false {
  return fuseAvailable() ? false : '/dev/fuse or fusermount3 is missing'
}

async function devOf (path: string, timeoutMs = 2000): Promise<number | undefined> {
  // stat in this (non-serving) process, but bounded: a stale mount must not hang the test.
  return await Promise.race([
    stat(path).then(s => s.dev, () => undefined),
    new Promise<undefined>(resolve => setTimeout(() => { resolve(undefined) }, timeoutMs).unref())
  ])
}

export interface MountedDaemon {
  home: string
  mountpoint: string
  child: ChildProcess
  /** Everything the daemon printed (stdout + stderr). */
  output: () => string
  /** SIGKILL the daemon and wait until its PID is gone (leaves a stale mount). */
  kill9: () => Promise<void>
  /** SIGTERM and wait for a clean exit; returns the exit code. */
  stop: () => Promise<number | null>
}

async function waitExit (child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true
  return await new Promise(resolve => {
    const timer = setTimeout(() => { resolve(false) }, timeoutMs)
    child.once('exit', () => { clearTimeout(timer); resolve(true) })
  })
}

/** SIGKILLs `child` and waits until its PID is gone. */
async function kill9Child (child: ChildProcess): Promise<void> {
  child.kill('SIGKILL')
  await waitExit(child, 10_000)
  if (child.pid != null) await waitPidGone(child.pid)
}

/** Polls `ready` until true; throws with the child's output when it exits first or time runs out. */
async function waitReady (child: ChildProcess, output: () => string, ready: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!await ready()) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what}: the daemon exited early (${String(child.exitCode ?? child.signalCode)}):\n${output()}`)
    if (Date.now() > until) throw new Error(`${what} was not ready within ${timeoutMs} ms:\n${output()}`)
    await new Promise(r => setTimeout(r, 50))
  }
}

/** Waits until the process `pid` no longer exists (a killed process takes ~1 s to be reaped here). */
export async function waitPidGone (pid: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    try { process.kill(pid, 0) } catch { return }
    try {
      const st = await readFile(`/proc/${pid}/stat`, 'utf8')
      if (st.split(') ')[1]?.startsWith('Z') === true) { await new Promise(r => setTimeout(r, 50)); continue }
    } catch { return }
    await new Promise(r => setTimeout(r, 50))
  }
  throw new Error(`process ${pid} still exists after ${timeoutMs} ms`)
}

/** Aborts the FUSE connection of a (stale) mount and unmounts it lazily. Never hangs. */
export async function forceUnmount (mountpoint: string): Promise<void> {
  await new Promise<void>(resolve => {
    const child = spawn('bash', [join(REPO, 'mount-scripts', 'recover-mount.sh'), mountpoint], { stdio: 'ignore' })
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve() }, 10_000)
    child.on('close', () => { clearTimeout(timer); resolve() })
    child.on('error', () => { clearTimeout(timer); resolve() })
  })
}

/**
 * Starts `palm mount MOUNTPOINT --foreground` for `home` as a child process and waits until the
 * mount is live (it prints READY and the mount answers). Cleanup: SIGTERM (the daemon unmounts), then
 * abort + lazy unmount as a fallback, then SIGKILL.
 */
export async function startMount (t: Cleanup, home: string, options: { mountpoint?: string, args?: string[], env?: Record<string, string>, timeoutMs?: number } = {}): Promise<MountedDaemon> {
  const mountpoint = options.mountpoint ?? join(home, '..', 'mnt')
  // A stale mount (its daemon was killed) answers ENOTCONN: `palm mount` recovers it.
  await mkdir(mountpoint, { recursive: true }).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOTCONN') throw err })
  const child = spawn(process.execPath, [PALM_BIN, 'mount', mountpoint, '--home', home, '--foreground', ...(options.args ?? [])], {
    env: options.env ?? testEnv(),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { output += d.toString() })
  onCleanup(t, async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      if (!await waitExit(child, 30_000)) {
        await forceUnmount(mountpoint)
        child.kill('SIGKILL')
        await waitExit(child, 10_000)
      }
    }
    if (await isMountpoint(mountpoint, 'fuse.palm')) await forceUnmount(mountpoint)
  })
  // Live: the daemon said READY (after mounting), mountinfo lists a fuse.palm mount there, and its
  // root answers stat. Device numbers and mount ids cannot tell a new mount from the stale one it
  // replaced: the kernel reuses freed ones at once.
  await waitReady(child, () => output, async () => output.includes('READY') && await isMountpoint(mountpoint, 'fuse.palm') && await devOf(mountpoint) !== undefined,
    `the mount at ${mountpoint}`, options.timeoutMs ?? 30_000)
  return {
    home,
    mountpoint,
    child,
    output: () => output,
    kill9: async () => { await kill9Child(child) },
    stop: async () => {
      child.kill('SIGTERM')
      await waitExit(child, 30_000)
      return child.exitCode
    }
  }
}

export interface ServingDaemon {
  home: string
  /** The device id, from the READY line. */
  id: string
  child: ChildProcess
  output: () => string
  /** SIGKILL the daemon and wait until its PID is gone. */
  kill9: () => Promise<void>
}

/**
 * Starts `palm serve` (a device that only lends disk, no mount) for `home` as a child process and
 * waits for its READY line. Cleanup: SIGTERM, then SIGKILL.
 */
export async function startServe (t: Cleanup, home: string, options: { env?: Record<string, string>, timeoutMs?: number } = {}): Promise<ServingDaemon> {
  const child = spawn(process.execPath, [PALM_BIN, 'serve', '--home', home], { env: options.env ?? testEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { output += d.toString() })
  onCleanup(t, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    if (!await waitExit(child, 30_000)) {
      child.kill('SIGKILL')
      await waitExit(child, 10_000)
    }
  })
  const idOf = (): string | undefined => /READY serving device (\S+)/.exec(output)?.[1]
  await waitReady(child, () => output, async () => idOf() != null, `palm serve for ${home}`, options.timeoutMs ?? 30_000)
  return { home, id: idOf() ?? '', child, output: () => output, kill9: async () => { await kill9Child(child) } }
}
