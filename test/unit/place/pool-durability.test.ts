/**
 * The durability rule with devices missing, the persisted spread queue and the spreader, the
 * durability modes, and the registry of fragments other devices placed here (kept by GC).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import pWaitFor from 'p-wait-for'
import { CID } from 'multiformats/cid'
import { createSpreadQueue, ForeignFragments, type PlacedStripe } from '../../../src/place/index.js'
import { MemoryFragmentStore } from '../../../src/store/memory-store.js'
import { cidOf } from '../../../src/util/cid.js'
import { createTempDir } from '../../helpers/tmp.js'
import { captureLogger, createPoolRig, type PoolRig } from './pool-rig.js'

const POLICY = { k: 4, n: 6 }

function same (a: Uint8Array, b: Uint8Array): void {
  assert.ok(Buffer.from(a).equals(Buffer.from(b)), 'stripe bytes differ')
}

/** Devices (rig indexes) holding fragment i, per stripe. */
function holdersOf (rig: PoolRig, s: PlacedStripe, i: number): number[] {
  return s.holders[i].map(id => rig.nodes.findIndex(n => n.node.peerId.toString() === id))
}

describe('durability rule', () => {
  it('writes with 2 devices down on 4 distinct devices, queues 2 fragments, spreads them when the devices return', async t => {
    const rig = await createPoolRig(t, { devices: 6 })
    await rig.stop(4)
    await rig.stop(5)
    const written: Array<{ data: Uint8Array, placed: PlacedStripe }> = []
    for (let i = 0; i < 5; i++) {
      const data = new Uint8Array(randomBytes(40_000 + i))
      const placed = await rig.io.write(data, POLICY, { file: `/down${i}` })
      const first = placed.holders.map(h => h[0])
      assert.equal(new Set(first).size, 4, 'all 4 online devices hold fragments')
      assert.ok(!first.includes(rig.id(4)) && !first.includes(rig.id(5)))
      // Every fragment is stored where the manifest says, before write() returned.
      for (let f = 0; f < 6; f++) assert.ok(await rig.store(holdersOf(rig, placed, f)[0]).has(CID.parse(placed.fragments[f])))
      const queued = placed.holders.filter(h => h.length === 2)
      assert.equal(queued.length, 2)
      assert.deepEqual(new Set(queued.map(h => h[1])), new Set([rig.id(4), rig.id(5)]))
      written.push({ data, placed })
    }
    assert.equal(rig.queue.count(), 10)
    await rig.restart(4)
    await rig.restart(5)
    await pWaitFor(() => rig.queue.count() === 0, { timeout: 15_000, interval: 50 })
    for (const w of written) {
      for (let f = 0; f < 6; f++) {
        for (const d of holdersOf(rig, w.placed, f)) assert.ok(await rig.store(d).has(CID.parse(w.placed.fragments[f])), `fragment ${f} on device ${d}`)
      }
    }
    // Two devices that held two fragments each die: every stripe still has 4.
    const doubled = [...new Set(written.flatMap(w => w.placed.holders.filter(h => h.length === 2).map(h => h[0])))]
    const victims = doubled.map(id => rig.nodes.findIndex(n => n.node.peerId.toString() === id)).filter(i => i > 0).slice(0, 2)
    for (const v of victims) await rig.stop(v)
    for (const w of written) same(await rig.io.read(w.placed, { file: 'w' }), w.data)
  })

  it('local: every fragment here at once, copies made in the background', async t => {
    const rig = await createPoolRig(t, { devices: 4, durability: 'local' })
    const data = new Uint8Array(randomBytes(100_000))
    const placed = await rig.io.write(data, POLICY, { file: '/l' })
    for (const cid of placed.fragments) assert.ok(await rig.store(0).has(CID.parse(cid)))
    assert.ok(placed.holders.every(h => h[0] === rig.id(0)))
    await pWaitFor(() => rig.queue.count() === 0, { timeout: 15_000, interval: 50 })
    const onOthers = placed.holders.filter(h => h.length === 2)
    assert.ok(onOthers.length >= 4, 'the fragments meant for the 3 other devices were queued')
    for (const [i, h] of placed.holders.entries()) {
      if (h.length === 2) assert.ok(await rig.store(rig.nodes.findIndex(n => n.node.peerId.toString() === h[1])).has(CID.parse(placed.fragments[i])))
    }
    same(await rig.io.read(placed, { file: '/l' }), data)
  })

  it('spread: returns once k+1 devices hold fragments; with everyone answering, all are placed', async t => {
    const rig = await createPoolRig(t, { devices: 6, durability: 'spread' })
    const data = new Uint8Array(randomBytes(70_000))
    const placed = await rig.io.write(data, POLICY, { file: '/s' })
    assert.ok(new Set(placed.holders.map(h => h[0])).size >= 5)
    same(await rig.io.read(placed, { file: '/s' }), data)
  })

  it('a device that fails a put is given up on: its fragments go to the next device', async t => {
    const rig = await createPoolRig(t, { devices: 7, spreader: false })
    // Device 3 is stopped behind the writer's back: the writer still lists it online for a moment.
    await rig.nodes[3].node.stop()
    const data = new Uint8Array(randomBytes(30_000))
    const placed = await rig.io.write(data, POLICY, { file: '/f' })
    assert.ok(!placed.holders.some(h => h[0] === rig.id(3)))
    assert.ok(new Set(placed.holders.map(h => h[0])).size >= 5)
    same(await rig.io.read(placed, { file: '/f' }), data)
  })
})

describe('spread queue', () => {
  it('keeps its entries across a restart and after an interrupted drain', async t => {
    const dir = await createTempDir(t, 'palm-spread-')
    const logs: string[] = []
    const a = createSpreadQueue({ dir }, { logger: captureLogger(logs) })
    await a.start()
    const entry = (n: number, target: string): any => ({ cid: `bafy${n}`, target, holders: ['self'], stripe: `s${n}` })
    await a.add([entry(1, 'devA'), entry(2, 'devA'), entry(3, 'devB')])
    assert.equal(a.count(), 3)
    await a.sync()
    // An interrupted drain: the file was renamed to .spreading when the process died.
    await rename(join(dir, 'devA.jsonl'), join(dir, 'devA.spreading'))
    await writeFile(join(dir, 'devA.jsonl'), JSON.stringify({ c: 'bafy4', t: 'devA', h: ['self'], s: 's4' }) + '\n')
    const b = createSpreadQueue({ dir }, { logger: captureLogger(logs) })
    await b.start()
    assert.equal(b.countFor('devA'), 3)
    assert.equal(b.countFor('devB'), 1)
    // A drain that copies two and keeps one.
    const moved = await b.drain('devA', async (batch) => batch.filter(e => e.cid === 'bafy2'))
    assert.equal(moved, 2)
    assert.equal(b.countFor('devA'), 1)
    // A drain that stops keeps everything.
    assert.equal(await b.drain('devA', async () => 'stop'), 0)
    assert.equal(b.countFor('devA'), 1)
    const c = createSpreadQueue({ dir }, { logger: captureLogger(logs) })
    await c.start()
    assert.equal(c.count(), 2)
    await assert.rejects(c.add([entry(5, '../etc')]), { name: 'InvalidArgumentError' })
  })
})

describe('fragments other devices placed here', () => {
  it('are recorded on put, forgotten on an explicit delete, and survive a restart', async t => {
    const dir = await createTempDir(t, 'palm-foreign-')
    const path = join(dir, 'foreign.log')
    const store = new MemoryFragmentStore()
    const foreign = new ForeignFragments({ path })
    const served = foreign.wrap(store)
    const frags = Array.from({ length: 5 }, () => new Uint8Array(randomBytes(100)))
    await Promise.all(frags.map(async f => { await served.put(cidOf(f), f) }))
    await served.put(cidOf(frags[0]), frags[0])
    await served.delete(cidOf(frags[1]))
    const held = await new ForeignFragments({ path }).load()
    assert.deepEqual(held, new Set([0, 2, 3, 4].map(i => cidOf(frags[i]).toString())))
    assert.equal(await store.has(cidOf(frags[1])), false)
  })
})
