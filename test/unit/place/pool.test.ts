/**
 * The pool StripeIO over real PALM nodes on loopback (libp2p, swarm key, fragment protocol), the
 * real chunk pool and the persisted spread queue: placement, any-k reads with devices down,
 * bounded failure, corruption, quotas, health and usage.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import type { PlacedStripe } from '../../../src/place/index.js'
import { createPoolRig } from './pool-rig.js'

const POLICY = { k: 4, n: 6 }

function same (a: Uint8Array, b: Uint8Array): void {
  assert.equal(a.byteLength, b.byteLength)
  assert.ok(Buffer.from(a).equals(Buffer.from(b)), 'stripe bytes differ')
}

/** Devices holding the stripe's fragments (first holder of each). */
function holderSet (s: PlacedStripe): Set<string> {
  return new Set(s.holders.map(h => h[0]))
}

describe('pool stripe I/O on loopback devices', () => {
  it('spreads each stripe over 6 distinct devices, reads any k back, and says where they are', async t => {
    const rig = await createPoolRig(t, { devices: 6 })
    const stripes: Array<{ data: Uint8Array, placed: PlacedStripe }> = []
    for (const size of [0, 1, 4096, 1024 * 1024 + 1]) {
      const data = new Uint8Array(randomBytes(size))
      const placed = await rig.io.write(data, POLICY, { file: `/f${size}` })
      assert.equal(holderSet(placed).size, 6, `size ${size}: ${placed.holders.join(' | ')}`)
      assert.ok(placed.holders.every(h => h.length === 1), 'nothing queued with every device online')
      assert.ok(holderSet(placed).has(rig.id(0)), 'the writer holds one')
      for (let i = 0; i < 6; i++) {
        const holder = rig.nodes.findIndex(n => n.node.peerId.toString() === placed.holders[i][0])
        assert.ok(await rig.store(holder).has(CID.parse(placed.fragments[i])), `fragment ${i} is on its holder`)
      }
      stripes.push({ data, placed })
    }
    for (const s of stripes) same(await rig.io.read(s.placed, { file: 'x' }), s.data)
    const h = await rig.io.health(stripes[3].placed)
    assert.deepEqual({ reachable: h.reachable, needed: h.needed, total: h.total }, { reachable: 6, needed: 4, total: 6 })
    assert.deepEqual(h.devices, ['dev0', 'dev1', 'dev2', 'dev3', 'dev4', 'dev5'])
    await rig.io.sync(stripes.map(s => s.placed), { file: 'x' })
    // The policy passed with the stripe is the one used (a folder's user.palm.policy).
    const small = new Uint8Array(randomBytes(10_000))
    const twoOfThree = await rig.io.write(small, { k: 2, n: 3 }, { file: '/p' })
    assert.equal(twoOfThree.fragments.length, 3)
    assert.equal(holderSet(twoOfThree).size, 3)
    same(await rig.io.read(twoOfThree, { file: '/p' }), small)
    const u = rig.io.usage()
    assert.equal(u.devices, 6)
    assert.ok(u.usableFreeBytes > 0 && u.usableFreeBytes <= u.usableCapacityBytes)
  })

  it('reads with 2 devices down; with 3 gone (past their grace) fails with FragmentsUnavailableError naming them, at once', async t => {
    // Seen 1 ms ago is already too long: a stopped device is gone at once, no read waits for it.
    const rig = await createPoolRig(t, { devices: 6, readFailMs: 20_000, knownForMs: 1 })
    const data = new Uint8Array(randomBytes(300_000))
    const placed = await rig.io.write(data, POLICY, { file: '/big' })
    await rig.stop(2)
    await rig.stop(4)
    same(await rig.io.read(placed, { file: '/big' }), data)
    const h = await rig.io.health(placed)
    assert.equal(h.reachable, 4)
    assert.ok(!h.devices.includes('dev2') && !h.devices.includes('dev4'))
    await rig.stop(5)
    const t0 = performance.now()
    await assert.rejects(rig.io.read(placed, { file: '/big' }), (err: any) => {
      assert.equal(err.name, 'FragmentsUnavailableError')
      assert.equal(err.code, 'EIO')
      assert.equal(err.found, 3)
      assert.equal(err.needed, 4)
      assert.equal(err.peers.length, 3, err.message)
      return true
    })
    assert.ok(performance.now() - t0 < 20_000, 'did not wait for devices known to be gone')
    assert.ok(rig.logs.some(l => l.includes('ERROR') && l.includes('/big') && l.includes('dev5')), rig.logs.join('\n'))
  })

  it('fragments gone from online devices: the error blames no device while the journal is catching up, and says so', async t => {
    let behind = 0
    const rig = await createPoolRig(t, { devices: 6, journalBehind: () => behind })
    const placed = await rig.io.write(new Uint8Array(randomBytes(300_000)), POLICY, { file: '/old' })
    // Collected as a file deleted later in the journal would be (the writer keeps its own).
    for (let i = 0; i < 6; i++) {
      const holder = rig.nodes.findIndex(n => n.node.peerId.toString() === placed.holders[i][0])
      if (holder !== 0) await rig.store(holder).delete(CID.parse(placed.fragments[i]))
    }
    await assert.rejects(rig.io.read(placed, { file: '/old' }), (err: any) => {
      assert.equal(err.name, 'FragmentsUnavailableError')
      assert.match(err.message, /none \(fragments lost\)/)
      assert.match(err.message, /Bring those devices back online/)
      return true
    })
    behind = 42
    await assert.rejects(rig.io.read(placed, { file: '/old' }), (err: any) => {
      assert.match(err.message, /journal is still 42 ops behind .* may have been deleted or rewritten since/)
      return true
    })
  })

  it('a stripe named with a hash this palm does not know (a newer format): NotSupportedError before any fetch, no fragment blamed', async t => {
    const rig = await createPoolRig(t, { devices: 6 })
    const placed = await rig.io.write(new Uint8Array(randomBytes(300_000)), POLICY, { file: '/new' })
    // sha3-256 (multihash 0x16) in place of the fragments' own hash.
    const foreign = placed.fragments.map(c => CID.createV1(0x55, Digest.create(0x16, CID.parse(c).multihash.digest)).toString())
    const served = (): number => rig.nodes.reduce((sum, n) => sum + n.node.stats().fragment.requests, 0)
    const before = served()
    await assert.rejects(rig.io.read({ ...placed, fragments: foreign }, { file: '/new' }), (err: any) => {
      assert.equal(err.name, 'NotSupportedError')
      assert.match(err.message, /cannot read \/new: its fragments are named with a hash this palm does not know .*upgrade palm/)
      return true
    })
    assert.equal(served(), before, 'no device was asked for a fragment')
    assert.equal((await rig.io.read(placed, { file: '/new' })).length, 300_000)
  })

  it('a read that needs devices expected back waits for them: it succeeds when one returns, and fails after readFailMs when none does', async t => {
    const rig = await createPoolRig(t, { devices: 6, readFailMs: 60_000 })
    const data = new Uint8Array(randomBytes(300_000))
    const placed = await rig.io.write(data, POLICY, { file: '/w' })
    for (const i of [3, 4, 5]) await rig.stop(i)
    assert.deepEqual(rig.io.devices.missing().map(p => p.name).sort(), ['dev3', 'dev4', 'dev5'])
    // Three of six are restarting: only 3 fragments are online now. The read waits; dev5 returns.
    const reading = rig.io.read(placed, { file: '/w' })
    reading.catch(() => {}) // awaited below, after the restart
    await rig.restart(5)
    same(await reading, data)
    assert.equal(rig.io.stats().readFailures, 0)

    // None returns: the read fails once readFailMs has passed, naming them.
    const short = await createPoolRig(t, { devices: 6, readFailMs: 1500 })
    const placed2 = await short.io.write(data, POLICY, { file: '/x' })
    for (const i of [3, 4, 5]) await short.stop(i)
    const t0 = performance.now()
    await assert.rejects(short.io.read(placed2, { file: '/x' }), (err: any) => {
      assert.equal(err.name, 'FragmentsUnavailableError')
      assert.equal(err.peers.length, 3, err.message)
      assert.match(err.message, /waited for devices expected back/)
      return true
    })
    assert.ok(performance.now() - t0 >= 1400, 'it waited for the devices expected back')
  })

  it('reads the right bytes when a fragment is corrupt on a device, and logs the device and the CID', async t => {
    const rig = await createPoolRig(t, { devices: 6 })
    const data = new Uint8Array(randomBytes(50_000))
    const placed = await rig.io.write(data, POLICY, { file: '/c' })
    // Corrupt fragment 1 on the (remote) device holding it, and make that device look fastest so
    // that it is asked first.
    const holder = rig.nodes.findIndex(n => n.node.peerId.toString() === placed.holders[1][0]) || rig.nodes.findIndex(n => n.node.peerId.toString() === placed.holders[2][0])
    const index = placed.holders.findIndex(h => h[0] === rig.id(holder))
    assert.ok(holder > 0)
    for (let i = 1; i < 6; i++) for (let j = 0; j < 10; j++) rig.io.devices.stats.succeeded(rig.id(i), 100, i === holder ? 0.1 : 40)
    const cid = CID.parse(placed.fragments[index])
    const bad = await rig.store(holder).get(cid)
    bad[bad.length - 1] ^= 0xff
    rig.store(holder).corrupt(cid, bad)
    for (let i = 0; i < 3; i++) same(await rig.io.read(placed, { file: '/c' }), data)
    const line = rig.logs.find(l => l.includes('ERROR') && l.includes('corrupt'))
    assert.ok(line?.includes(placed.fragments[index]) === true && line.includes(`dev${holder}`), rig.logs.join('\n'))
  })

  it('gives NoSpaceError when the pool is full and keeps what was written', async t => {
    // Serving devices take about 5 fragments of 64 KiB stripes (4-of-6: ~16 KiB each).
    const rig = await createPoolRig(t, { devices: 6, capacityBytes: 90_000 })
    const written: Array<{ data: Uint8Array, placed: PlacedStripe }> = []
    let full: unknown
    for (let i = 0; i < 20 && full == null; i++) {
      const data = new Uint8Array(randomBytes(64 * 1024))
      try {
        written.push({ data, placed: await rig.io.write(data, POLICY, { file: `/q${i}` }) })
      } catch (err) {
        full = err
      }
    }
    assert.ok(full != null, 'the pool never filled')
    assert.equal((full as any).name, 'NoSpaceError')
    assert.equal((full as any).code, 'ENOSPC')
    assert.ok(written.length >= 3, `only ${written.length} stripes fit`)
    for (const w of written) same(await rig.io.read(w.placed, { file: 'q' }), w.data)
  })
})
