/**
 * The chunk pool on real worker threads: correct results with many stripes in flight, a bounded
 * queue that pushes back, cancellation at every stage, typed errors across the thread boundary,
 * buffer ownership, and the event loop delay under load (reported, not asserted).
 */
import assert from 'node:assert/strict'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { describe, it, type TestContext } from 'node:test'
import pWaitFor from 'p-wait-for'
import { createChunkPool, decodeStripe, encodeStripe, type ChunkPoolInit, type WorkerChunkPool } from '../../../src/chunk/index.js'
import { onCleanup } from '../../helpers/tmp.js'
import { SALT, assertSameBytes, bytesOf, expectError } from './helpers.js'

async function startPool (t: TestContext, init: Partial<ChunkPoolInit> = {}): Promise<WorkerChunkPool> {
  const pool = createChunkPool({ salt: SALT, ...init })
  onCleanup(t, async () => { await pool.stop() })
  await pool.start()
  return pool
}

const MiB = 1024 * 1024

describe('chunk pool', () => {
  it('start and stop are idempotent; use before start or after stop is refused', async (t) => {
    const pool = createChunkPool({ salt: SALT, workers: 1 })
    onCleanup(t, async () => { await pool.stop() })
    await expectError(() => pool.encode(new Uint8Array(1), { k: 1, n: 1 }), 'InvalidArgumentError')
    await Promise.all([pool.start(), pool.start()])
    await pool.start()
    assert.equal(pool.stats().workers, 1)
    await Promise.all([pool.stop(), pool.stop()])
    await pool.stop()
    assert.equal(pool.stats().workers, 0)
    await expectError(() => pool.encode(new Uint8Array(1), { k: 1, n: 1 }), 'AbortedError')
  })

  it('rejects bad init', async () => {
    await expectError(() => createChunkPool({ salt: new Uint8Array(3) }), 'InvalidArgumentError')
    await expectError(() => createChunkPool({ salt: SALT, workers: 0 }), 'InvalidArgumentError')
    await expectError(() => createChunkPool({ salt: SALT, maxQueue: -1 }), 'InvalidArgumentError')
    await expectError(() => createChunkPool({ salt: SALT, engine: 'simd' as 'js' }), 'InvalidArgumentError')
  })

  it('many stripes in flight: results equal inline encoding and decode back; event loop stays free', async (t) => {
    const pool = await startPool(t, { workers: 2, maxQueue: 3 })
    const policies = [{ k: 4, n: 6 }, { k: 2, n: 3 }, { k: 10, n: 14 }, { k: 1, n: 3 }]
    const stripes = Array.from({ length: 32 }, (_, i) => bytesOf(1000 + i, i === 0 ? 0 : Math.floor((i * 7919) % MiB)))
    const histogram = monitorEventLoopDelay({ resolution: 1 })
    histogram.enable()
    const started = performance.now()
    const encoded = await Promise.all(stripes.map(async (s, i) => await pool.encode(s, policies[i % 4], { keepStripe: true })))
    const decoded = await Promise.all(encoded.map(async (e, i) => await pool.decode(
      e.fragments.slice(e.n - e.k).map(f => ({ index: f.index, bytes: f.bytes })),
      { k: e.k, n: e.n, length: e.length, cids: e.fragments.map(f => f.cid) })))
    const elapsedMs = performance.now() - started
    histogram.disable()
    for (let i = 0; i < stripes.length; i++) {
      const inline = encodeStripe(stripes[i], policies[i % 4], SALT)
      assert.equal(encoded[i].id, inline.id, `stripe ${i} id`)
      assert.deepEqual(encoded[i].fragments.map(f => f.cid.toString()), inline.fragments.map(f => f.cid.toString()))
      assertSameBytes(decoded[i], stripes[i], `stripe ${i} decoded`)
    }
    const mb = 2 * stripes.reduce((s, x) => s + x.length, 0) / 1e6
    t.diagnostic(`pool of 2 under load: ${mb.toFixed(1)} MB encoded + decoded in ${elapsedMs.toFixed(0)} ms; ` +
      `event loop delay p50 ${(histogram.percentile(50) / 1e6).toFixed(2)} ms, p99 ${(histogram.percentile(99) / 1e6).toFixed(2)} ms, max ${(histogram.max / 1e6).toFixed(2)} ms`)
    assert.deepEqual(pool.stats(), { workers: 2, busy: 0, queued: 0, waiting: 0, inline: 0 })
  })

  it('the queue is bounded: callers beyond maxQueue wait for room, then all finish', async (t) => {
    const pool = await startPool(t, { workers: 1, maxQueue: 1 })
    const stripe = bytesOf(5, 4 * MiB)
    const jobs = [0, 1, 2, 3].map(async () => await pool.encode(stripe, { k: 4, n: 6 }, { keepStripe: true }))
    assert.deepEqual(pool.stats(), { workers: 1, busy: 1, queued: 1, waiting: 2, inline: 0 })
    const results = await Promise.all(jobs)
    assert.equal(new Set(results.map(r => r.id)).size, 1)
    assert.deepEqual(pool.stats(), { workers: 1, busy: 0, queued: 0, waiting: 0, inline: 0 })
  })

  it('cancellation: before the call, while waiting, while queued and while running', async (t) => {
    const pool = await startPool(t, { workers: 1, maxQueue: 1 })
    const big = bytesOf(6, 16 * MiB)
    const policy = { k: 10, n: 14 }

    const pre = new AbortController()
    pre.abort()
    const kept = bytesOf(7, 1000)
    await expectError(() => pool.encode(kept, policy, { signal: pre.signal }), 'AbortedError')
    assert.equal(kept.length, 1000, 'a refused stripe is not taken')

    const running = new AbortController()
    const queued = new AbortController()
    const waiting = new AbortController()
    const a = pool.encode(big, policy, { keepStripe: true, signal: running.signal })
    const b = pool.encode(big, policy, { keepStripe: true, signal: queued.signal })
    const c = pool.encode(big, policy, { keepStripe: true, signal: waiting.signal })
    assert.deepEqual(pool.stats(), { workers: 1, busy: 1, queued: 1, waiting: 1, inline: 0 })
    waiting.abort()
    await expectError(() => c, 'AbortedError')
    queued.abort()
    await expectError(() => b, 'AbortedError')
    assert.equal(pool.stats().queued, 0)
    running.abort()
    await expectError(() => a, 'AbortedError')
    // The abandoned job finishes in the worker and its result is dropped; the pool carries on.
    await pWaitFor(() => pool.stats().busy === 0)
    const after = await pool.encode(bytesOf(8, 1000), { k: 2, n: 3 }, { keepStripe: true })
    assert.equal(after.fragments.length, 3)
  })

  it('stop rejects queued and waiting callers with AbortedError', async (t) => {
    const pool = await startPool(t, { workers: 1, maxQueue: 1 })
    const big = bytesOf(9, 8 * MiB)
    const jobs = Promise.allSettled([0, 1, 2].map(async () => await pool.encode(big, { k: 4, n: 6 }, { keepStripe: true })))
    assert.deepEqual(pool.stats(), { workers: 1, busy: 1, queued: 1, waiting: 1, inline: 0 })
    await pool.stop()
    for (const r of await jobs) {
      assert.equal(r.status, 'rejected')
      assert.equal((r.reason as Error).name, 'AbortedError')
    }
  })

  it('rebuilds missing fragments on a worker and inline, byte-identical to the encoder\'s, with typed errors', async (t) => {
    for (const inlineMaxBytes of [-1, 64 * 1024]) {
      const pool = await startPool(t, { workers: 1, inlineMaxBytes })
      for (const size of [5000, 4 * MiB]) {
        const e = encodeStripe(bytesOf(size, size), { k: 4, n: 6 }, SALT)
        const expect = { k: 4, n: 6, length: size, cids: e.fragments.map(f => f.cid) }
        const out = await pool.rebuild([1, 3, 4, 5].map(i => ({ index: i, bytes: e.fragments[i].bytes })), expect, [0, 2])
        assert.deepEqual(out.map(f => [f.index, f.cid.toString()]), [0, 2].map(i => [i, e.fragments[i].cid.toString()]))
        for (const f of out) assertSameBytes(f.bytes, e.fragments[f.index].bytes, `fragment ${f.index} of ${size} bytes`)
        await expectError(() => pool.rebuild([1, 3, 4].map(i => ({ index: i, bytes: e.fragments[i].bytes })), expect, [0]), 'FragmentsUnavailableError')
      }
    }
  })

  it('typed errors come back from the workers', async (t) => {
    const pool = await startPool(t, { workers: 1, inlineMaxBytes: -1 })
    const stripe = bytesOf(10, 5000)
    const e = encodeStripe(stripe, { k: 4, n: 6 }, SALT)
    const frags = e.fragments.map(f => ({ index: f.index, bytes: f.bytes }))
    const unavailable = await expectError<{ found: number, needed: number, code: string }>(() => pool.decode(frags.slice(0, 3), { k: 4, n: 6, length: 5000 }), 'FragmentsUnavailableError')
    assert.deepEqual([unavailable.found, unavailable.needed, unavailable.code], [3, 4, 'EIO'])
    const corrupt = frags.slice(0, 4).map(f => ({ ...f, bytes: new Uint8Array(f.bytes) }))
    corrupt[1].bytes[40] ^= 0x10
    const integrity = await expectError<{ code: string, details: { bad: Array<{ index: number }> } }>(
      () => pool.decode(corrupt, { k: 4, n: 6, length: 5000, cids: e.fragments.map(f => f.cid) }), 'IntegrityError')
    assert.equal(integrity.code, 'EIO')
    assert.deepEqual(integrity.details.bad.map(b => b.index), [1])
    await expectError(() => pool.decode(frags, { k: 4, n: 6, length: 5000, codecId: 7 }), 'NotSupportedError')
    await expectError(() => pool.decode(frags, { k: 4, n: 6, length: -5 }), 'InvalidArgumentError')
    await expectError(() => pool.encode(stripe, { k: 7, n: 6 }), 'InvalidArgumentError')
    assertSameBytes(await pool.decode(frags.slice(2), { k: 4, n: 6, length: 5000 }), stripe, 'the pool still decodes')
  })

  it('ownership: a whole-buffer stripe moves to the worker unless keepStripe; views are copied', async (t) => {
    const pool = await startPool(t, { workers: 1, inlineMaxBytes: -1 })
    const expected = encodeStripe(bytesOf(11, 70_000), { k: 2, n: 3 }, SALT).id
    const moved = bytesOf(11, 70_000)
    const pending = pool.encode(moved, { k: 2, n: 3 })
    assert.equal(moved.length, 0, 'detached as soon as encode() is called')
    assert.equal((await pending).id, expected)
    const kept = bytesOf(11, 70_000)
    assert.equal((await pool.encode(kept, { k: 2, n: 3 }, { keepStripe: true })).id, expected)
    assert.equal(kept.length, 70_000)
    const backing = new Uint8Array(80_000)
    backing.set(bytesOf(11, 70_000), 5)
    const view = backing.subarray(5, 70_005)
    assert.equal((await pool.encode(view, { k: 2, n: 3 })).id, expected)
    assert.equal(view.length, 70_000, 'a view into a larger buffer is copied, never detached')

    const e = encodeStripe(bytesOf(12, 9000), { k: 2, n: 3 }, SALT)
    const frags = e.fragments.map(f => ({ index: f.index, bytes: new Uint8Array(f.bytes) }))
    await pool.decode(frags, { k: 2, n: 3, length: 9000 })
    assert.ok(frags.every(f => f.bytes.length > 0), 'fragments are copied by default')
    const out = await pool.decode(frags, { k: 2, n: 3, length: 9000 }, { transferFragments: true })
    assert.ok(frags.every(f => f.bytes.length === 0), 'transferFragments moves them')
    assertSameBytes(out, decodeStripe(e.fragments, { k: 2, n: 3, length: 9000 }, SALT), 'decoded')
  })

  it('ownership: a stripe in shared memory is read in place by the worker, neither copied nor detached', async (t) => {
    const pool = await startPool(t, { workers: 1, inlineMaxBytes: -1 })
    const before = bytesOf(13, 70_000)
    const after = bytesOf(14, 70_000)
    for (const keepStripe of [true, false]) {
      const shared = new Uint8Array(new SharedArrayBuffer(70_000))
      shared.set(before)
      // The one worker is busy with a big stripe, so this job waits in the pool's queue.
      const busy = pool.encode(bytesOf(16, 8 << 20), { k: 4, n: 6 })
      const pending = pool.encode(shared, { k: 2, n: 3 }, { keepStripe })
      // Written while the job waits (the caller must not, the write buffer never does): a copy
      // taken in encode() would have the old bytes, the worker reading in place has the new ones.
      shared.set(after)
      await busy
      assert.equal((await pending).id, encodeStripe(after, { k: 2, n: 3 }, SALT).id, `keepStripe ${String(keepStripe)}`)
      assert.equal(shared.length, 70_000, 'shared memory is never detached')
    }
  })

  it('a worker decodes into shared memory this thread allocated, byte-exact, with data or parity fragments', async (t) => {
    const pool = await startPool(t, { workers: 1, inlineMaxBytes: -1 })
    const stripe = bytesOf(15, 300_000)
    const e = encodeStripe(stripe, { k: 4, n: 6 }, SALT)
    for (const use of [[0, 1, 2, 3], [1, 3, 4, 5]]) {
      const out = await pool.decode(use.map(i => e.fragments[i]), { k: 4, n: 6, length: stripe.length, cids: e.fragments.map(f => f.cid) })
      assert.ok(out.buffer instanceof SharedArrayBuffer, 'the stripe is in shared memory')
      assertSameBytes(out, stripe, `from fragments ${use.join(', ')}`)
    }
    await expectError(() => pool.decode(e.fragments, { k: 4, n: 6, length: 1.5 }), 'InvalidArgumentError')
  })

  it('small stripes run inline, one per event-loop turn, with the same results, errors and ownership', async (t) => {
    const pool = await startPool(t, { workers: 1 })
    const small = Array.from({ length: 50 }, (_, i) => bytesOf(2000 + i, i * 300))
    const expected = small.map(s => encodeStripe(s, { k: 4, n: 6 }, SALT))
    const pending = small.map(async s => await pool.encode(s, { k: 4, n: 6 }))
    assert.ok(small.every(s => s.length === 0), 'moved as soon as encode() is called, inline or not')
    assert.equal(pool.stats().inline, 50)
    assert.equal(pool.stats().busy, 0, 'no worker involved')
    // Each inline job takes its own event-loop turn: a callback queued when the first finishes runs
    // long before the fiftieth (were they run back to back, it would run after all 50).
    let tickedAt = -1
    let done = 0
    const results = await Promise.all(pending.map(async (p, i) => {
      const r = await p
      done++
      if (i === 0) setImmediate(() => { tickedAt = done })
      return r
    }))
    assert.ok(tickedAt >= 1 && tickedAt < 10, `the event loop turned ${tickedAt} inline jobs after the first`)
    results.forEach((r, i) => { assert.equal(r.id, expected[i].id) })
    const e = expected[40]
    const frags = e.fragments.map(f => ({ index: f.index, bytes: f.bytes }))
    assertSameBytes(await pool.decode(frags.slice(2), { k: 4, n: 6, length: 40 * 300 }), bytesOf(2040, 40 * 300), 'inline decode')
    await expectError(() => pool.decode(frags.slice(3), { k: 4, n: 6, length: 40 * 300 }), 'FragmentsUnavailableError')
    const aborted = new AbortController()
    const cancelled = pool.encode(bytesOf(1, 100), { k: 2, n: 3 }, { signal: aborted.signal })
    aborted.abort()
    await expectError(() => cancelled, 'AbortedError')
    assert.equal(pool.stats().inline, 0)
  })

  it('a pool on the wasm engine gives the same fragments', async (t) => {
    const pool = await startPool(t, { workers: 1, engine: 'wasm' })
    const stripe = bytesOf(13, 300_000)
    const e = await pool.encode(stripe, { k: 10, n: 14 }, { keepStripe: true })
    assert.equal(e.id, encodeStripe(stripe, { k: 10, n: 14 }, SALT).id)
  })
})
