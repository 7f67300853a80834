import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { collectGarbage, MemoryFragmentStore, scrubStore } from '../../../src/store/index.js'
import { randomFragment } from '../../compliance/fragment-store-tests.js'
import { corruptOnDisk, createStore } from './fs-helpers.js'

describe('scrubStore', () => {
  it('finds and quarantines corrupt fragments in the file store (files and packs)', async t => {
    const store = await createStore(t, { packThresholdBytes: 64 * 1024 })
    const frags = Array.from({ length: 12 }, (_, i) => randomFragment(i % 2 === 0 ? 1000 : 100_000))
    for (const f of frags) await store.put(f.cid, f.bytes)
    // One corrupt of each kind; corrupting the last small one keeps the others' records intact.
    await corruptOnDisk(store, frags[11].cid, new Uint8Array(100_000))
    await corruptOnDisk(store, frags[10].cid, new Uint8Array(1000))
    const bad: string[] = []
    const report = await scrubStore(store, { bytesPerSecond: Infinity, onBad: cid => { bad.push(cid.toString()) } })
    assert.equal(report.checked, 12)
    assert.equal(report.corruptCount, 2)
    assert.deepEqual(report.corrupt.sort(), [frags[10].cid.toString(), frags[11].cid.toString()].sort())
    assert.deepEqual(bad.sort(), report.corrupt)
    assert.equal(report.unreadableCount, 0)
    assert.equal(store.usage().fragmentCount, 10)
    const second = await scrubStore(store, { bytesPerSecond: Infinity })
    assert.equal(second.corruptCount, 0)
    assert.equal(second.checked, 10)
  })

  it('keeps to its byte rate and stops when the signal fires', async () => {
    const store = new MemoryFragmentStore()
    for (let i = 0; i < 20; i++) {
      const f = randomFragment(10_000)
      await store.put(f.cid, f.bytes)
    }
    let gets = 0
    const counting = { list: store.list.bind(store), get: async (...args: Parameters<typeof store.get>) => { gets++; return await store.get(...args) } }
    // 200 kB at 1 MB/s takes at least 200 ms; the signal ends it after about 50 ms.
    await assert.rejects(scrubStore(counting, { bytesPerSecond: 1_000_000, signal: AbortSignal.timeout(50) }), (err: Error) => {
      assert.ok(err.name === 'TimeoutError' || err.name === 'AbortedError', err.name)
      return true
    })
    assert.ok(gets < 20, `it stopped before reading everything (${gets} read)`)
    const report = await scrubStore(store, { bytesPerSecond: 2_000_000 })
    assert.equal(report.checked, 20)
    assert.ok(report.durationMs >= 90, `the rate limit spreads 200 kB at 2 MB/s over at least 90 ms, took ${report.durationMs}`)
  })
})

describe('collectGarbage', () => {
  it('deletes old unreferenced fragments only', async () => {
    const store = new MemoryFragmentStore()
    const frags = Array.from({ length: 6 }, () => randomFragment(500))
    for (const f of frags) await store.put(f.cid, f.bytes)
    const now = Date.now()
    for (const f of frags.slice(0, 4)) store.setStoredAt(f.cid, now - 7_200_000)
    const referenced = new Set([frags[0].cid.toString(), frags[4].cid.toString()])
    const report = await collectGarbage(store, { referenced, graceMs: 3_600_000, nowMs: now })
    assert.deepEqual({ scanned: report.scanned, referenced: report.referenced, young: report.young, deleted: report.deleted, deletedBytes: report.deletedBytes },
      { scanned: 6, referenced: 2, young: 1, deleted: 3, deletedBytes: 1500 })
    for (const [i, kept] of [true, false, false, false, true, true].entries()) assert.equal(await store.has(frags[i].cid), kept, `fragment ${i}`)
  })

  it('keeps every fragment put since keepFromMs, however old (stores a writer has not committed yet)', async () => {
    const store = new MemoryFragmentStore()
    const frags = Array.from({ length: 3 }, () => randomFragment(100))
    for (const f of frags) await store.put(f.cid, f.bytes)
    const now = Date.now()
    frags.forEach((f, i) => { store.setStoredAt(f.cid, now - 10_000 + i * 1000) })
    const report = await collectGarbage(store, { referenced: new Set(), graceMs: 0, nowMs: now, keepFromMs: now - 9_000 })
    assert.deepEqual({ young: report.young, deleted: report.deleted }, { young: 2, deleted: 1 })
    for (const [i, kept] of [false, true, true].entries()) assert.equal(await store.has(frags[i].cid), kept, `fragment ${i}`)
    // Past the grace period, both are kept by the pin alone: `palm gc` cannot say when they can go.
    assert.deepEqual({ pinned: report.pinned, pinnedBytes: report.pinnedBytes, oldestYoungMs: report.oldestYoungMs }, { pinned: 2, pinnedBytes: 200, oldestYoungMs: undefined })
  })

  it('tells fragments the pin keeps from those within the grace period', async () => {
    const store = new MemoryFragmentStore()
    const frags = Array.from({ length: 3 }, () => randomFragment(100))
    for (const f of frags) await store.put(f.cid, f.bytes)
    const now = Date.now()
    for (const [i, age] of [9_000, 6_000, 1_000].entries()) store.setStoredAt(frags[i].cid, now - age)
    const report = await collectGarbage(store, { referenced: new Set(), graceMs: 5_000, nowMs: now, keepFromMs: now - 7_000 })
    assert.deepEqual({ young: report.young, pinned: report.pinned, deleted: report.deleted, oldestYoungMs: report.oldestYoungMs }, { young: 2, pinned: 1, deleted: 1, oldestYoungMs: now - 1_000 })
  })

  it('keeps a fragment put again while GC runs, and compacts the file store after deleting', async t => {
    const store = await createStore(t, { packThresholdBytes: 64 * 1024, segmentBytes: 64 * 1024 })
    const frags = Array.from({ length: 40 }, (_, i) => randomFragment(i < 30 ? 4000 : 80_000))
    for (const f of frags) await store.put(f.cid, f.bytes)
    await new Promise(resolve => setTimeout(resolve, 20))
    const graceMs = 10
    // Put one again "during" GC: its age is refreshed, so it survives though unreferenced.
    const again = frags[5]
    const referenced = new Set(frags.slice(0, 5).map(f => f.cid.toString()))
    const gcNow = Date.now()
    await new Promise(resolve => setTimeout(resolve, 20))
    await store.put(again.cid, again.bytes)
    const report = await collectGarbage(store, { referenced, graceMs, nowMs: gcNow })
    assert.equal(report.deleted, 34)
    assert.equal(await store.has(again.cid), true)
    for (const f of frags.slice(0, 5)) assert.deepEqual(new Uint8Array(await store.get(f.cid)), f.bytes)
    for (const f of frags.slice(6)) assert.equal(await store.has(f.cid), false)
    assert.equal(store.usage().fragmentCount, 6)
    assert.ok((report.compaction as { segments: number }).segments >= 1, 'pack segments were compacted')
  })

  it('refuses a grace period that is not a number of ms ≥ 0', async () => {
    await assert.rejects(collectGarbage(new MemoryFragmentStore(), { referenced: new Set(), graceMs: Number.NaN }), { name: 'InvalidArgumentError' })
  })

  it('stops when the signal fires', async () => {
    const store = new MemoryFragmentStore()
    const f = randomFragment(10)
    await store.put(f.cid, f.bytes)
    await assert.rejects(collectGarbage(store, { referenced: new Set(), graceMs: 0 }, { signal: AbortSignal.abort() }), { name: 'AbortedError' })
    assert.equal(await store.has(f.cid), true)
  })
})
