/**
 * Local stripe I/O with the real chunk pool (worker threads) and the real file store.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createChunkPool, DEFAULT_STRIPE_SIZE_BYTES } from '../../../src/chunk/index.js'
import { createLocalStripeIO } from '../../../src/place/local.js'
import type { PlacedStripe, StripeIO } from '../../../src/place/types.js'
import type { FsFragmentStore, FsStoreInit } from '../../../src/store/index.js'
import type { FragmentStore } from '../../../src/store/types.js'
import { parseCid } from '../../../src/util/cid.js'
import { defaultLogger } from '../../../src/util/logger.js'
import { onCleanup, type Cleanup } from '../../helpers/tmp.js'
import { corruptOnDisk, createSmallFs, createStore } from '../store/fs-helpers.js'

const POLICY = { k: 4, n: 6 }
const DEVICE = 'device-a'

interface Rig {
  io: StripeIO
  store: FsFragmentStore
  /** CIDs the store was asked for, in order. */
  gets: string[]
}

async function createRig (t: Cleanup, init: Partial<FsStoreInit> = {}): Promise<Rig> {
  const pool = createChunkPool({ salt: new Uint8Array(32).fill(7), workers: 2 })
  onCleanup(t, async () => { await pool.stop() })
  await pool.start()
  const store = await createStore(t, init)
  const gets: string[] = []
  // The real store, with the CIDs asked for recorded (to check the read order).
  const seen: FragmentStore = {
    put: async (cid, bytes, options) => { await store.put(cid, bytes, options) },
    get: async (cid, options) => { gets.push(cid.toString()); return await store.get(cid, options) },
    has: async (cid, options) => await store.has(cid, options),
    delete: async (cid, options) => { await store.delete(cid, options) },
    sync: async (cids, options) => { await store.sync(cids, options) },
    list: options => store.list(options),
    usage: () => store.usage(),
    start: async () => { await store.start() },
    stop: async () => { await store.stop() }
  }
  const io = createLocalStripeIO({ policy: POLICY }, { pool, store: seen, deviceId: DEVICE, logger: defaultLogger() })
  return { io, store, gets }
}

function sameBytes (actual: Uint8Array, expected: Uint8Array): void {
  assert.equal(actual.byteLength, expected.byteLength)
  assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), 'stripe bytes differ')
}

describe('local stripe I/O', () => {
  it('round-trips stripes of 0 B, 1 B, a whole stripe and random sizes, data shards first', async t => {
    const { io, gets } = await createRig(t)
    const sizes = [0, 1, DEFAULT_STRIPE_SIZE_BYTES, ...Array.from({ length: 5 }, () => Math.floor(Math.random() * 300_000))]
    for (const size of sizes) {
      const stripe = new Uint8Array(randomBytes(size))
      const placed = await io.write(stripe, POLICY, { file: '/round-trip' })
      assert.equal(stripe.byteLength, size, 'the caller keeps its buffer')
      assert.equal(placed.length, size)
      assert.equal(placed.fragments.length, 6)
      assert.deepEqual(placed.holders, Array.from({ length: 6 }, () => [DEVICE]))
      await io.sync([placed])
      gets.length = 0
      sameBytes(await io.read(placed, { file: '/round-trip' }), stripe)
      assert.deepEqual(gets.sort(), placed.fragments.slice(0, 4).sort(), `size ${size}: read the data fragments only`)
      assert.deepEqual(await io.health(placed), { reachable: 6, needed: 4, total: 6, devices: [DEVICE] })
    }
  })

  it('reads around a corrupt data fragment (quarantined) and a missing one', async t => {
    const { io, store } = await createRig(t)
    const stripe = new Uint8Array(randomBytes(1_000_000))
    const placed = await io.write(stripe, POLICY)
    // Zeros over the whole fragment, in place (its neighbours in the pack stay intact).
    const first = parseCid(placed.fragments[0])
    await corruptOnDisk(store, first, new Uint8Array((await store.locate(first))?.length ?? 0))
    await store.delete(parseCid(placed.fragments[2]))
    sameBytes(await io.read(placed), stripe)
    assert.equal(await store.has(parseCid(placed.fragments[0])), false, 'the corrupt copy was quarantined')
    assert.equal((await io.health(placed)).reachable, 4)
    sameBytes(await io.read(placed), stripe)
  })

  it('fails with FragmentsUnavailableError naming the file when fewer than k fragments remain', async t => {
    const { io, store } = await createRig(t)
    const placed = await io.write(new Uint8Array(randomBytes(5000)), POLICY)
    for (const i of [1, 3, 5]) await store.delete(parseCid(placed.fragments[i]))
    await assert.rejects(io.read(placed, { file: '/docs/report.txt' }), (err: Error & { found: number, needed: number, peers: string[], code: string }) => {
      assert.equal(err.name, 'FragmentsUnavailableError')
      assert.equal(err.code, 'EIO')
      assert.equal(err.found, 3)
      assert.equal(err.needed, 4)
      assert.deepEqual(err.peers, [DEVICE])
      assert.match(err.message, /\/docs\/report\.txt/)
      return true
    })
    assert.deepEqual(await io.health(placed), { reachable: 3, needed: 4, total: 6, devices: [DEVICE] })
  })

  it('says ENOSPC when this device is full (configured capacity)', async t => {
    const { io } = await createRig(t, { capacityBytes: 600_000 })
    const first = await io.write(new Uint8Array(randomBytes(300_000)), POLICY)
    assert.ok(first.fragments.length === 6)
    await assert.rejects(io.write(new Uint8Array(randomBytes(300_000)), POLICY, { file: '/big.bin' }), (err: Error & { code: string }) => {
      assert.equal(err.name, 'NoSpaceError')
      assert.equal(err.code, 'ENOSPC')
      assert.match(err.message, /\/big\.bin/)
      return true
    })
    const u = io.usage()
    assert.equal(u.rawCapacityBytes, 600_000)
    assert.equal(u.usableCapacityBytes, 400_000)
    assert.equal(u.devices, 1)
    assert.ok(u.usableFreeBytes <= (600_000 - u.rawUsedBytes) * 4 / 6)
  })

  it('says ENOSPC when the disk itself is full', async t => {
    const mnt = await createSmallFs(t, 1024 * 1024)
    if (mnt == null) { t.skip('cannot mount a tmpfs here (not root)'); return }
    const { io } = await createRig(t, { path: join(mnt, 'store'), capacityBytes: 1024 ** 3 })
    let failure: unknown
    const written: Array<{ placed: PlacedStripe, stripe: Uint8Array }> = []
    for (let i = 0; i < 20 && failure == null; i++) {
      const stripe = new Uint8Array(randomBytes(200_000))
      await io.write(stripe, POLICY).then(placed => { written.push({ placed, stripe }) }, (err: unknown) => { failure = err })
    }
    assert.equal((failure as Error | undefined)?.name, 'NoSpaceError')
    for (const w of written) sameBytes(await io.read(w.placed), w.stripe)
  })

  it('stops on a fired signal', async t => {
    const { io } = await createRig(t)
    const placed = await io.write(new Uint8Array(randomBytes(10_000)), POLICY)
    const signal = AbortSignal.abort()
    await assert.rejects(io.write(new Uint8Array(10), POLICY, { signal }), { name: 'AbortedError' })
    await assert.rejects(io.read(placed, { signal }), { name: 'AbortedError' })
    await assert.rejects(io.sync([placed], { signal }), { name: 'AbortedError' })
    // Cancelled while the fragments are being fetched.
    const c = new AbortController()
    const reading = io.read(placed, { signal: c.signal })
    c.abort()
    await assert.rejects(reading, { name: 'AbortedError' })
  })
})
