/**
 * A write that flushes (StripeIOOptions.sync, what an fsync's own commit asks): every device
 * flushes the fragments it stores before the write returns, the remote ones on the store's round
 * trip, and a device that already held a fragment (the sender's dedup) flushes it too. Real PALM
 * nodes on loopback; each store's `sync` is wrapped to record what it flushed.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import type { PlacedStripe } from '../../../src/place/types.js'
import { createPoolRig } from './pool-rig.js'

describe('pool writes that flush', () => {
  it('every holder flushes what it stored, held fragments included, before the write returns', async t => {
    const rig = await createPoolRig(t, { devices: 6, spreader: false })
    const flushed = new Map<string, Set<string>>()
    rig.nodes.forEach((n, i) => {
      const id = rig.id(i)
      flushed.set(id, new Set())
      const store = n.store
      const sync = store.sync.bind(store)
      store.sync = async (cids, options) => {
        for (const c of cids ?? []) flushed.get(id)?.add(c.toString())
        await sync(cids, options)
      }
    })
    const unflushed = (placed: PlacedStripe): string[] => placed.fragments.flatMap((cid, i) =>
      placed.holders[i].slice(0, 1).filter(h => flushed.get(h)?.has(cid) !== true).map(h => `fragment ${i} on ${h}`))
    assert.equal(rig.io.flushWithStore(), true, 'peers are online: the flush rides on the store')

    const small = await rig.io.write(new Uint8Array(randomBytes(4096)), { k: 4, n: 6 }, { file: '/small', sync: true })
    assert.deepEqual(unflushed(small), [])
    assert.ok(new Set(small.holders.map(h => h[0])).size > 1, 'the fragments went to several devices')

    // Stored without a flush, then written again with one: the devices hold them (nothing is sent
    // again) and flush them all the same.
    const data = new Uint8Array(randomBytes(1024 * 1024 + 1))
    const first = await rig.io.write(data, { k: 4, n: 6 }, { file: '/big' })
    assert.ok(unflushed(first).length >= 5, 'a write without sync flushes nothing')
    const sent = rig.io.stats().bytesSent
    const again = await rig.io.write(data, { k: 4, n: 6 }, { file: '/big', sync: true })
    assert.equal(rig.io.stats().bytesSent, sent, 'held fragments are not sent again')
    assert.deepEqual(unflushed(again), [])
  })
})
