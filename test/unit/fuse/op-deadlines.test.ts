/**
 * The deadline sweeper of the FUSE adapter (src/fuse/op-deadlines.ts): every op is answered once,
 * with its result or with DEADLINE_PASSED at its deadline; the shared per-bucket signal fires after
 * the bucket's ops were answered; nothing stays armed when nothing is in flight. And through
 * createFuseOps over a real VFS stack: a flush stuck on a store that does not answer gets EIO at
 * its deadline, routine errors share one FuseErrno per errno, and the file is fine afterwards.
 */
import assert from 'node:assert/strict'
import { constants as C } from 'node:fs'
import { constants as os } from 'node:os'
import { describe, it } from 'node:test'
import { createFuseOps, FuseErrno } from '../../../src/fuse/ops.js'
import { DEADLINE_PASSED, OpDeadlines } from '../../../src/fuse/op-deadlines.js'
import { ROOT_INO } from '../../../src/meta/types.js'
import type { StripeIO } from '../../../src/place/types.js'
import { abortError } from '../../../src/util/abort.js'
import { prefixLogger } from '../../../src/util/logger.js'
import { createVfsStack } from '../vfs/stack.js'

const fctx = { uid: 0, gid: 0, pid: 1, umask: 0o022 }
const direntSize = (name: string): number => 24 + name.length

/** Settles `p` into { ok, value } or { ok: false, err } (never throws). */
async function settle<T> (p: Promise<T>): Promise<{ ok: true, value: T } | { ok: false, err: unknown }> {
  try {
    return { ok: true, value: await p }
  } catch (err) {
    return { ok: false, err }
  }
}

/** Polls `cond` every 10 ms for up to 2 s. */
async function waitUntil (cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise(resolve => setTimeout(resolve, 10))
  assert.ok(cond(), 'condition not reached within 2 s')
}

/** The sweeper's timer is unref'd (the mount keeps the daemon alive): keep this test process alive. */
function keepAlive (t: { after: (fn: () => void) => void }): void {
  const timer = setInterval(() => {}, 1000)
  t.after(() => { clearInterval(timer) })
}

describe('fuse op deadlines', () => {
  it('answers with the result before the deadline and with DEADLINE_PASSED after it', async (t) => {
    keepAlive(t)
    const d = new OpDeadlines({ sweepMs: 5, bucketMs: 10 })
    assert.equal(await d.run(1000, async () => 42), 42)
    await assert.rejects(d.run(1000, async () => { throw new Error('boom') }), /boom/)
    let signal: AbortSignal | undefined
    const late = await settle(d.run(20, async (s) => {
      signal = s
      // Work that only ends when it is cancelled.
      await new Promise((_resolve, reject) => { s.addEventListener('abort', () => { reject(abortError(s)) }, { once: true }) })
    }))
    assert.deepEqual(late, { ok: false, err: DEADLINE_PASSED })
    // The shared signal fires after the op was answered; the late rejection is dropped.
    await waitUntil(() => signal?.aborted === true)
    assert.equal(signal?.reason?.name, 'TimeoutError')
    await waitUntil(() => d.inflight === 0 && d.liveSignals === 0)
  })

  it('shares one signal per bucket and answers each op once', async () => {
    const d = new OpDeadlines({ sweepMs: 5, bucketMs: 60_000 })
    const signals = new Set<AbortSignal>()
    const results = await Promise.all(Array.from({ length: 50 }, async (_, i) => await d.run(1000, async (s) => { signals.add(s); return i })))
    assert.deepEqual(results, Array.from({ length: 50 }, (_, i) => i))
    assert.equal(signals.size, 1)
    assert.equal(d.inflight, 0)
    d.expireAll()
    assert.equal(d.liveSignals, 0)
    assert.equal([...signals][0].aborted, true)
  })

  it('answers a synchronous throw as a rejection', async () => {
    const d = new OpDeadlines()
    await assert.rejects(d.run(1000, () => { throw new Error('sync') }), /sync/)
    assert.equal(d.inflight, 0)
    d.expireAll()
  })

  it('expireAll answers every op in flight', async (t) => {
    keepAlive(t)
    const d = new OpDeadlines({ sweepMs: 1000, bucketMs: 1000 })
    const pending = settle(d.run(60_000, async () => await new Promise(() => {})))
    assert.equal(d.inflight, 1)
    d.expireAll()
    assert.deepEqual(await pending, { ok: false, err: DEADLINE_PASSED })
  })
})

describe('fuse ops deadlines over a real VFS', () => {
  it('answers a flush stuck on a store EIO at its deadline; the next flush stores the data', async (t) => {
    // A device that does not answer until released: the store waits on the gate.
    let gate: Promise<void> | undefined
    let release = (): void => {}
    const wrapStripes = (s: StripeIO): StripeIO => ({
      ...s,
      write: async (stripe, policy, options) => {
        if (gate != null) await gate
        return await s.write(stripe, policy, options)
      }
    })
    keepAlive(t)
    const { vfs } = await createVfsStack(t, { wrapStripes })
    t.after(() => { release() })
    // 1 s per op (a flush gets 4 s): long enough that the ops before the gate finish on a loaded
    // machine (at 40 ms a create ran out of time during a full test run), short enough for the test.
    const ops = createFuseOps(vfs, prefixLogger('fuse-deadline-test').forComponent('palm:fuse'), { opTimeoutMs: 1000, direntSize })

    const missing = await settle(ops.lookup(fctx, ROOT_INO, 'nope'))
    assert.equal(missing.ok, false)
    assert.equal((missing as { err: FuseErrno }).err.errno, -os.errno.ENOENT)
    // Routine errors share one instance per errno.
    assert.equal((await settle(ops.lookup(fctx, ROOT_INO, 'nope2')) as { err: unknown }).err, (missing as { err: unknown }).err)
    assert.equal(FuseErrno.of(-os.errno.ENOENT), (missing as { err: unknown }).err)

    const created = await ops.create(fctx, ROOT_INO, 'f', 0o100644, C.O_RDWR)
    assert.equal(await ops.write(fctx, created.attr.ino, created.fh, 0, Buffer.from('hello'), 0), 5)
    await ops.flush?.(fctx, created.attr.ino, created.fh, 0n)
    assert.equal((await ops.getattr(fctx, created.attr.ino, undefined)).attr.size, 5)

    gate = new Promise(resolve => { release = resolve })
    assert.equal(await ops.write(fctx, created.attr.ino, created.fh, 5, Buffer.from(' world'), 0), 6)
    const flushed = await settle(ops.flush?.(fctx, created.attr.ino, created.fh, 0n) as Promise<void>)
    assert.equal(flushed.ok, false)
    assert.equal((flushed as { err: FuseErrno }).err.errno, -os.errno.EIO)
    release()
    gate = undefined
    await ops.flush?.(fctx, created.attr.ino, created.fh, 0n)
    await ops.release(fctx, created.attr.ino, created.fh, 0)
    assert.equal((await ops.getattr(fctx, created.attr.ino, undefined)).attr.size, 11)
  })
})
