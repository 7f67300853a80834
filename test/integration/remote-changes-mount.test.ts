/**
 * Remote changes through a real FUSE mount: device B's VFS is mounted by a child process
 * (test/helpers/feed-mount-server.ts); device A's ops are applied to B's journal while the mount is
 * live. `stat`, `ls` and `cat` run here, a separate process, and must see new names, new sizes and
 * bytes, removed and renamed names within 2 s.
 *
 * The mount uses kernel entry/attr timeouts of 60 s: the kernel would then show a cached name,
 * size or page for up to a minute, so only the change feed's notifications (and keep_cache false
 * at open) can make the changes visible in time. (The daemon's default is 1 s, `attrTimeoutMs`.)
 */
import assert from 'node:assert/strict'
import { fork, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { lstat, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import pWaitFor from 'p-wait-for'
import type { FeedCommand, FeedServerOptions } from '../helpers/feed-mount-server.js'
import { fuseSkipReason, runTool, teardown } from '../helpers/fuse-mount.js'
import { createTempDir, onCleanup } from '../helpers/tmp.js'

const SERVER = fileURLToPath(new URL('../helpers/feed-mount-server.js', import.meta.url))
const STORM = fileURLToPath(new URL('./programs/lookup-storm.js', import.meta.url))
const VISIBLE_WITHIN_MS = 2000

type Command = FeedCommand extends infer C ? C extends { id: number } ? Omit<C, 'id'> : never : never

interface FeedMount {
  dir: string
  call: (c: Command) => Promise<unknown>
}

async function startFeedMount (t: TestContext, options: FeedServerOptions): Promise<FeedMount> {
  const dir = await createTempDir(t, 'palm-feed-mnt-')
  const work = await createTempDir(t, 'palm-feed-work-')
  const dev0 = (await stat(dir)).dev
  const child = fork(SERVER, [dir, work, JSON.stringify(options)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const exited = new Promise<number | string>(resolve => { child.once('exit', (code, signal) => { resolve(code ?? signal ?? 'unknown') }) })
  onCleanup(t, async () => { await teardown(child, exited, dir) })
  const pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  let nextId = 1
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: { type?: string, message?: string, id?: number, value?: unknown, error?: string }) => {
      if (m.type === 'ready') resolve()
      else if (m.type === 'error') reject(new Error(`feed server could not mount ${dir}: ${m.message ?? ''}`))
      else if (m.id != null) {
        const p = pending.get(m.id)
        pending.delete(m.id)
        if (m.error != null) p?.reject(new Error(m.error))
        else p?.resolve(m.value)
      }
    })
    void exited.then((code) => {
      reject(new Error(`feed server exited (${code})`))
      for (const p of pending.values()) p.reject(new Error(`feed server exited (${code})`))
    })
  })
  await pWaitFor(async () => (await stat(dir)).dev !== dev0, { interval: 20, timeout: 10_000 })
  const call = async (c: Command): Promise<unknown> => await new Promise((resolve, reject) => {
    const id = nextId++
    pending.set(id, { resolve, reject })
    child.send({ ...c, id })
  })
  return { dir, call }
}

/** Polls `check` until it holds; returns how long that took (ms). Fails after VISIBLE_WITHIN_MS. */
async function visibleWithin (t: TestContext, what: string, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now()
  for (;;) {
    if (await check().catch(() => false)) {
      const ms = performance.now() - started
      t.diagnostic(`${what}: visible after ${ms.toFixed(1)} ms`)
      return ms
    }
    const ms = performance.now() - started
    if (ms > VISIBLE_WITHIN_MS) assert.fail(`${what} was not visible through the mount within ${VISIBLE_WITHIN_MS} ms`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64')
const gone = async (path: string): Promise<boolean> => await lstat(path).then(() => false, (err: NodeJS.ErrnoException) => err.code === 'ENOENT')

describe('remote changes through a live mount', { skip: fuseSkipReason() ?? false }, () => {
  it('stat, ls and cat in another process see names, sizes, bytes, removals and renames within 2 s', async (t) => {
    const m = await startFeedMount(t, { entryTimeoutSec: 60, attrTimeoutSec: 60 })
    const p = (name: string): string => join(m.dir, name)
    await m.call({ cmd: 'mkdir', path: '/dir' })
    await m.call({ cmd: 'write', path: '/hello', data: b64('version one') })
    await m.call({ cmd: 'write', path: '/doomed', data: b64('bye') })
    await visibleWithin(t, 'new names in ls', async () => {
      const ls = await runTool('ls', ['-1', m.dir])
      return ls.stdout.split('\n').includes('hello') && ls.stdout.split('\n').includes('doomed')
    })
    // Warm every kernel cache: names, attributes and pages (cached for 60 s from here).
    assert.equal((await runTool('cat', [p('hello')])).stdout, 'version one')
    assert.equal((await runTool('cat', [p('hello')])).stdout, 'version one')
    assert.equal((await stat(p('hello'))).size, 11)
    assert.equal((await stat(p('doomed'))).size, 3)
    assert.ok((await stat(p('dir'))).isDirectory())

    // Grown: a new size and new bytes (a second stripe too: 1 MiB stripes).
    const big = Buffer.alloc((1 << 20) + 4096, 7)
    big.write('version two', 0)
    await m.call({ cmd: 'write', path: '/hello', data: b64(big) })
    await visibleWithin(t, 'grown size in stat', async () => (await stat(p('hello'))).size === big.length)
    await visibleWithin(t, 'grown bytes in cat', async () => (await readFile(p('hello'))).equals(big))

    // Replaced by other bytes of the same size: only the content changed.
    const same = Buffer.alloc(big.length, 9)
    await m.call({ cmd: 'write', path: '/hello', data: b64(same) })
    const sum = createHash('sha256').update(same).digest('hex')
    // sha256sum reads the file in its own process (cat's 1 MiB of output would overflow execFile's buffer).
    await visibleWithin(t, 'replaced bytes (same size) read by sha256sum', async () => (await runTool('sha256sum', [p('hello')])).stdout.startsWith(sum))

    await m.call({ cmd: 'unlink', path: '/doomed' })
    await visibleWithin(t, 'a removed name disappearing', async () => await gone(p('doomed')))

    await m.call({ cmd: 'rename', from: '/hello', to: '/dir/renamed' })
    await visibleWithin(t, 'a rename in stat', async () => await gone(p('hello')) && (await stat(p('dir/renamed'))).size === same.length)
    await visibleWithin(t, 'a rename in ls', async () => {
      const ls = await runTool('ls', ['-1', m.dir, p('dir')])
      return !ls.stdout.includes('hello') && ls.stdout.includes('renamed')
    })
    const stats = await m.call({ cmd: 'stats' }) as { notifier: { entries: number, data: number, attrs: number } }
    t.diagnostic(`notifications: ${JSON.stringify(stats.notifier)}`)
    assert.ok(stats.notifier.entries > 0 && stats.notifier.data > 0)
  })

  it('notifications racing a storm of lookups and reads of the same names never deadlock', async (t) => {
    const m = await startFeedMount(t, { entryTimeoutSec: 60, attrTimeoutSec: 60 })
    const NAMES = 8
    const STORMS = 3
    const DURATION_MS = 6000
    const storms = Array.from({ length: STORMS }, () => {
      const child = spawn(process.execPath, [STORM, m.dir, 'n', String(NAMES), String(DURATION_MS)], { stdio: ['ignore', 'pipe', 'inherit'] })
      onCleanup(t, () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
      let out = ''
      child.stdout.on('data', (d: Buffer) => { out += d.toString() })
      return new Promise<{ lookups: number, reads: number, listings: number, unexpected: number }>((resolve, reject) => {
        child.once('exit', (code) => { code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`lookup storm exited ${String(code)}: ${out}`)) })
      })
    })
    // Churn the same names from "device A" while the storms run: every round is a remote batch
    // whose names and root attributes the kernel is told to drop.
    const churned = m.call({ cmd: 'churn', prefix: 'n', names: NAMES, rounds: 150 }) as Promise<{ shipped: number }>
    // A deadlock would hang the storms (D state) or the churn: both must finish well in time.
    const deadline = new Promise<never>((_resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('lookups or remote changes did not finish within 60 s: deadlock')) }, 60_000)
      onCleanup(t, () => { clearTimeout(timer) })
    })
    const [results, churn] = await Promise.race([Promise.all([Promise.all(storms), churned]), deadline])
    const stats = await m.call({ cmd: 'stats' }) as { notifier: { entries: number, attrs: number, flushes: number } }
    const lookups = results.reduce((s, r) => s + r.lookups, 0)
    const reads = results.reduce((s, r) => s + r.reads, 0)
    t.diagnostic(`${lookups} lookups and ${reads} reads by ${STORMS} processes, ${churn.shipped} remote ops, notifications ${JSON.stringify(stats.notifier)}`)
    assert.ok(results.every(r => r.unexpected === 0), 'no lookup failed other than ENOENT')
    assert.ok(churn.shipped >= 300)
    assert.ok(stats.notifier.entries > 0, 'notifications were sent while the storm ran')
    // Still answering, and showing device A's final names.
    const ls = await runTool('ls', ['-1', m.dir], 10_000)
    assert.equal(ls.code, 0)
    assert.ok(ls.stdout.split('\n').filter(n => n.startsWith('n')).length > 0)
  })
})
