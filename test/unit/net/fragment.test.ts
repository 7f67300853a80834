import '../../../src/util/polyfill.js'
import { randomBytes } from 'node:crypto'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cidOf } from '../../../src/util/cid.js'
import { createConnectedPair } from './net-helpers.js'

function fragment (size: number): { cid: ReturnType<typeof cidOf>, bytes: Uint8Array } {
  const bytes = new Uint8Array(randomBytes(size))
  return { cid: cidOf(bytes), bytes }
}

describe('fragment protocol (loopback)', () => {
  it('puts and gets byte-exact fragments, 1 MiB and larger included', async (t) => {
    const [a, b] = await createConnectedPair(t)
    for (const size of [0, 1, 4096, 1024 * 1024, 5 * 1024 * 1024 + 7]) {
      const f = fragment(size)
      await a.node.fragments.put(b.node.peerId, f.cid, f.bytes)
      assert.equal(await b.store.has(f.cid), true)
      const got = await a.node.fragments.get(b.node.peerId.toString(), f.cid)
      assert.deepEqual(Buffer.from(got), Buffer.from(f.bytes))
    }
  })

  it('puts many small fragments in few round trips and reports each outcome', async (t) => {
    const [a, b] = await createConnectedPair(t)
    const items = Array.from({ length: 500 }, () => fragment(4096))
    const before = b.node.stats().fragment.requests
    const outcomes = await a.node.fragments.putMany(b.node.peerId, items)
    assert.equal(outcomes.length, items.length)
    assert.ok(outcomes.every(o => o.ok))
    const requests = b.node.stats().fragment.requests - before
    assert.ok(requests <= 4, `500 × 4 KiB should take 2 batches of 1 MiB, took ${requests} requests`)
    assert.equal(b.store.usage().fragmentCount, 500)
    const present = await a.node.fragments.has(b.node.peerId, [...items.map(i => i.cid), fragment(10).cid])
    assert.deepEqual(present, [...items.map(() => true), false])
  })

  it('reuses idle streams for a run of requests instead of opening one per fragment', async (t) => {
    const [a, b] = await createConnectedPair(t)
    const f = fragment(50_000)
    await a.node.fragments.put(b.node.peerId, f.cid, f.bytes)
    const before = b.node.stats().fragment
    for (let i = 0; i < 20; i++) await a.node.fragments.get(b.node.peerId, f.cid)
    await a.node.fragments.has(b.node.peerId, [f.cid])
    const after = b.node.stats().fragment
    assert.equal(after.requests - before.requests, 21)
    assert.ok(after.streams - before.streams <= 1, `21 sequential requests opened ${after.streams - before.streams} streams`)
  })

  it('syncs on the remote device; a DELETE is refused unless the device\'s mayDelete clears it', async (t) => {
    const [a, b] = await createConnectedPair(t)
    const f = fragment(1000)
    await a.node.fragments.put(b.node.peerId, f.cid, f.bytes)
    await a.node.fragments.sync(b.node.peerId, [f.cid])
    await a.node.fragments.sync(b.node.peerId)
    await assert.rejects(a.node.fragments.delete(b.node.peerId, [f.cid]), { name: 'PermissionError' })
    assert.equal(await b.store.has(f.cid), true, 'a node without mayDelete deletes nothing a peer asks for')
  })

  it('a put that flushes sends the SYNC right behind the PUT, on one stream, and fails what was not flushed', async (t) => {
    const [a, b] = await createConnectedPair(t)
    const flushed: string[] = []
    let failFlush = false
    const sync = b.store.sync.bind(b.store)
    b.store.sync = async (cids, options) => {
      if (failFlush) throw new Error('disk said no')
      flushed.push(...(cids ?? []).map(c => c.toString()))
      await sync(cids, options)
    }
    const items = Array.from({ length: 3 }, () => fragment(1000))
    const before = b.node.stats().fragment
    const outcomes = await a.node.fragments.putMany(b.node.peerId, items, { sync: true })
    assert.ok(outcomes.every(o => o.ok))
    assert.deepEqual(flushed.sort(), items.map(i => i.cid.toString()).sort(), 'the device flushed what it stored')
    const after = b.node.stats().fragment
    assert.equal(after.requests - before.requests, 2, 'one PUT and one SYNC')
    assert.ok(after.streams - before.streams <= 1)
    // Without sync, nothing is flushed.
    flushed.length = 0
    assert.ok((await a.node.fragments.putMany(b.node.peerId, [fragment(10)])).every(o => o.ok))
    assert.deepEqual(flushed, [])
    // A flush that fails fails every fragment of the call, naming the device.
    failFlush = true
    const failed = await a.node.fragments.putMany(b.node.peerId, [fragment(20), fragment(30)], { sync: true })
    for (const o of failed) {
      assert.equal(o.ok, false)
      if (!o.ok) assert.match(o.error.message, /peer-b|12D3/)
    }
  })

  it('carries out a DELETE only when mayDelete keeps none of the fragments', async (t) => {
    const needed = fragment(100)
    const [a, b] = await createConnectedPair(t, { mayDelete: async (cids) => cids.filter(c => c.equals(needed.cid)) })
    const spare = fragment(200)
    for (const f of [needed, spare]) await a.node.fragments.put(b.node.peerId, f.cid, f.bytes)
    await assert.rejects(a.node.fragments.delete(b.node.peerId, [spare.cid, needed.cid]), { name: 'PermissionError' })
    assert.equal(await b.store.has(spare.cid), true, 'a refused request deletes nothing')
    await a.node.fragments.delete(b.node.peerId, [spare.cid])
    assert.equal(await b.store.has(spare.cid), false)
    await assert.rejects(a.node.fragments.get(b.node.peerId, spare.cid), { name: 'NotFoundError' })
  })

  it('refuses a fragment whose bytes do not match its CID', async (t) => {
    const [a, b] = await createConnectedPair(t)
    const f = fragment(2048)
    const forged = new Uint8Array(f.bytes)
    forged[0] ^= 1
    await assert.rejects(a.node.fragments.put(b.node.peerId, f.cid, forged), { name: 'IntegrityError' })
    assert.equal(await b.store.has(f.cid), false)
  })

  it('turns a quota refusal into QuotaExceededError naming the peer, without failing the rest', async (t) => {
    const [a, b] = await createConnectedPair(t, { capacityBytes: 10_000 })
    const small = fragment(4000)
    const big = fragment(8000)
    const outcomes = await a.node.fragments.putMany(b.node.peerId, [small, big])
    assert.equal(outcomes[0].ok, true)
    assert.equal(outcomes[1].ok, false)
    if (!outcomes[1].ok) {
      assert.equal(outcomes[1].error.name, 'QuotaExceededError')
      assert.match(outcomes[1].error.message, /peer-b/)
    }
  })

  it('detects a corrupt copy on the remote device on get', async (t) => {
    const [a, b] = await createConnectedPair(t)
    const f = fragment(3000)
    await a.node.fragments.put(b.node.peerId, f.cid, f.bytes)
    b.store.corrupt(f.cid, new Uint8Array(3000))
    await assert.rejects(a.node.fragments.get(b.node.peerId, f.cid), { name: 'IntegrityError' })
  })

  it('goes to the local store for its own peer id', async (t) => {
    const [a] = await createConnectedPair(t)
    const f = fragment(100)
    await a.node.fragments.put(a.node.peerId, f.cid, f.bytes)
    assert.equal(await a.store.has(f.cid), true)
    assert.deepEqual(await a.node.fragments.get(a.node.peerId, f.cid), f.bytes)
  })

  it('rejects a fragment over the size limit before sending it', async (t) => {
    const [a, b] = await createConnectedPair(t, { maxFragmentBytes: 64 * 1024 })
    const f = fragment(64 * 1024 + 1)
    await assert.rejects(a.node.fragments.put(b.node.peerId, f.cid, f.bytes), { name: 'InvalidArgumentError' })
  })

  it('fails with AbortedError when the caller aborts', async (t) => {
    const [a, b] = await createConnectedPair(t)
    const f = fragment(100)
    await assert.rejects(a.node.fragments.put(b.node.peerId, f.cid, f.bytes, { signal: AbortSignal.abort() }), { name: 'AbortedError' })
  })
})
