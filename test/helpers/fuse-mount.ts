/**
 * Starts the in-memory test file system (memfs-server.ts) in a child process, mounted on a fresh
 * temporary directory, and registers its teardown at creation: SIGTERM (the child unmounts), then
 * abort + lazy unmount of whatever is left, then SIGKILL — on every path, failures included.
 */
import { execFile, fork, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import pWaitFor from 'p-wait-for'
import { findMount, recoverStaleMount, type FuseSessionStats } from '../../native/fuse/index.js'
import { findExecutable } from '../../native/fuse/system.js'
import type { MemFsStats } from './memfs.js'
import type { ServerCommand, ServerOptions } from './memfs-server.js'
import { createTempDir, onCleanup, type Cleanup } from './tmp.js'

/** Why FUSE tests cannot run here (skip, not fail), or undefined when they can. */
export function fuseSkipReason (): string | undefined {
  if (!existsSync('/dev/fuse')) return '/dev/fuse is missing'
  if (findExecutable('fusermount3') == null) return 'fusermount3 is not installed (apt-get install fuse3)'
  return undefined
}

export interface ServerStats {
  fs: MemFsStats
  binding: FuseSessionStats
}

type Command = ServerCommand extends infer C ? C extends { id: number } ? Omit<C, 'id'> : never : never

export interface MemfsMount {
  /** The mount point. */
  dir: string
  child: ChildProcess
  /** Resolves with the exit code (or signal name) when the child exits. */
  exited: Promise<number | string>
  call: (command: Command) => Promise<unknown>
  stats: () => Promise<ServerStats>
}

const SERVER = fileURLToPath(new URL('./memfs-server.js', import.meta.url))

async function waitExit (exited: Promise<number | string>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const r = await Promise.race([exited.then(() => true), new Promise<boolean>(resolve => { timer = setTimeout(() => { resolve(false) }, ms) })])
  clearTimeout(timer)
  return r
}

/** Stops a FUSE server child and leaves no mount behind (SIGTERM, abort + lazy unmount, SIGKILL). */
export async function teardown (child: ChildProcess, exited: Promise<number | string>, dir: string): Promise<void> {
  const alive = (): boolean => child.exitCode === null && child.signalCode === null
  if (alive()) {
    child.kill('SIGCONT')
    child.kill('SIGTERM')
    await waitExit(exited, 5000)
  }
  if ((await findMount(dir))?.fsType.startsWith('fuse') === true) await recoverStaleMount(dir)
  if (alive()) {
    child.kill('SIGKILL')
    await waitExit(exited, 5000)
  }
  if ((await findMount(dir))?.fsType.startsWith('fuse') === true) await recoverStaleMount(dir)
}

/** Mounts a MemFs served by a child process; resolves once the mount is live (st_dev changed). */
export async function startMemfsMount (t: Cleanup, options: ServerOptions = {}): Promise<MemfsMount> {
  const dir = await createTempDir(t, 'palm-fuse-')
  const dev0 = (await stat(dir)).dev
  const child = fork(SERVER, [dir, JSON.stringify(options)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const exited = new Promise<number | string>(resolve => { child.once('exit', (code, signal) => { resolve(code ?? signal ?? 'unknown') }) })
  onCleanup(t, async () => { await teardown(child, exited, dir) })

  let nextId = 1
  const pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  let ready: (() => void) | undefined
  let failed: ((e: Error) => void) | undefined
  child.on('message', (m: { id?: number, type?: string, value?: unknown, error?: string, message?: string }) => {
    if (m.type === 'ready') ready?.()
    else if (m.type === 'error') failed?.(new Error(`memfs server could not mount ${dir}: ${m.message ?? ''}`))
    else if (m.id != null) {
      const p = pending.get(m.id)
      pending.delete(m.id)
      if (m.error != null) p?.reject(new Error(m.error))
      else p?.resolve(m.value)
    }
  })
  void exited.then(code => {
    for (const p of pending.values()) p.reject(new Error(`memfs server exited (${code})`))
    pending.clear()
    failed?.(new Error(`memfs server exited (${code}) before it was ready`))
  })
  await new Promise<void>((resolve, reject) => { ready = resolve; failed = reject })
  await pWaitFor(async () => (await stat(dir)).dev !== dev0, { interval: 20, timeout: 10_000 })

  const call = async (command: Command): Promise<unknown> => {
    const id = nextId++
    return await new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject })
      child.send({ ...command, id })
    })
  }
  return { dir, child, exited, call, stats: async () => await call({ cmd: 'stats' }) as ServerStats }
}

/** Runs a program (never a shell) and resolves with its exit code and output; never rejects. */
export async function runTool (file: string, args: string[], timeoutMs = 30_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err == null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null
      resolve({ code, stdout, stderr })
    })
  })
}
