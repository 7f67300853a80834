/**
 * Pack segments: crash damage at start (torn or zeroed tails, a damaged record in the middle),
 * tombstones across restarts, segment rolling and compaction.
 */
import assert from 'node:assert/strict'
import { appendFile, open, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { FsFragmentStore } from '../../../src/store/index.js'
import { encodeHeader, RECORD_FRAGMENT } from '../../../src/store/pack-format.js'
import { randomFragment, type TestFragment } from '../../compliance/fragment-store-tests.js'
import { onCleanup, type Cleanup } from '../../helpers/tmp.js'
import { createStore, reopenStore } from './fs-helpers.js'

const SEGMENT = 64 * 1024

async function reopen (t: Cleanup, store: FsFragmentStore): Promise<FsFragmentStore> {
  const next = await reopenStore(store, { segmentBytes: SEGMENT })
  onCleanup(t, async () => { await next.stop() })
  return next
}

async function putAll (store: FsFragmentStore, count: number, size: number): Promise<TestFragment[]> {
  const frags = Array.from({ length: count }, () => randomFragment(size))
  for (const f of frags) await store.put(f.cid, f.bytes)
  return frags
}

async function assertAll (store: FsFragmentStore, frags: TestFragment[]): Promise<void> {
  for (const f of frags) assert.deepEqual(new Uint8Array(await store.get(f.cid)), f.bytes)
}

async function segments (store: FsFragmentStore): Promise<string[]> {
  return (await readdir(join(store.root, 'packs'))).sort()
}

describe('pack segments', () => {
  it('cuts a torn record off the last segment at start and appends after it', async t => {
    const store = await createStore(t, { segmentBytes: SEGMENT })
    const frags = await putAll(store, 5, 1000)
    await store.stop()
    const seg = join(store.root, 'packs', '00000001.pack')
    const goodSize = (await stat(seg)).size
    // A record whose header made it to disk but whose data did not (crash mid-append).
    const torn = randomFragment(1000)
    await appendFile(seg, Buffer.concat([encodeHeader(RECORD_FRAGMENT, torn.cid.bytes, 1000, 0), Buffer.from(torn.bytes.subarray(0, 300))]))
    const again = await reopen(t, store)
    assert.equal((await stat(seg)).size, goodSize)
    await assertAll(again, frags)
    assert.equal(await again.has(torn.cid), false)
    const more = await putAll(again, 3, 1000)
    await assertAll(again, [...frags, ...more])
    assert.equal(again.usage().fragmentCount, 8)
  })

  it('survives a zeroed tail (power loss before sync) and a damaged header in the middle', async t => {
    const store = await createStore(t, { segmentBytes: SEGMENT })
    const frags = await putAll(store, 6, 2000)
    const second = await store.locate(frags[1].cid)
    await store.stop()
    const seg = join(store.root, 'packs', '00000001.pack')
    await appendFile(seg, new Uint8Array(5000))
    // Break the magic of the second record: it is lost, the records after it are found again.
    const fh = await open(seg, 'r+')
    try {
      const headerStart = (second?.offset ?? 0) - 20 - frags[1].cid.bytes.byteLength
      await fh.write(Buffer.from('XXXX'), 0, 4, headerStart)
    } finally {
      await fh.close()
    }
    const again = await reopen(t, store)
    await assertAll(again, [frags[0], ...frags.slice(2)])
    assert.equal(await again.has(frags[1].cid), false)
    assert.equal(again.usage().fragmentCount, 5)
    // The lost fragment can be stored again.
    await again.put(frags[1].cid, frags[1].bytes)
    await assertAll(again, frags)
  })

  it('rolls to a new segment when one is full, and keeps deletions across restarts', async t => {
    const store = await createStore(t, { segmentBytes: SEGMENT })
    const frags = await putAll(store, 40, 5000)
    assert.ok((await segments(store)).length >= 3, 'segments of 64 KiB roll over')
    for (const f of frags.slice(0, 20)) await store.delete(f.cid)
    const again = await reopen(t, store)
    for (const f of frags.slice(0, 20)) assert.equal(await again.has(f.cid), false)
    await assertAll(again, frags.slice(20))
    assert.equal(again.usage().fragmentCount, 20)
    assert.equal(again.usage().usedBytes, 20 * 5000)
  })

  it('compacts mostly-dead segments, keeping live fragments and deletions through a restart', async t => {
    const store = await createStore(t, { segmentBytes: SEGMENT })
    const frags = await putAll(store, 60, 4000)
    const before = await segments(store)
    const deleted = frags.filter((_, i) => i % 4 !== 0)
    const kept = frags.filter((_, i) => i % 4 === 0)
    for (const f of deleted) await store.delete(f.cid)
    // Put one deleted fragment back: compaction must keep the new copy, not the tombstone's victim.
    await store.put(deleted[0].cid, deleted[0].bytes)
    const result = await store.compact()
    assert.ok(result.segments >= 2, `compacted ${result.segments} segments`)
    assert.ok(result.reclaimedBytes > 100_000)
    const after = await segments(store)
    assert.ok(after.length < before.length + 1, `${before.length} segments before, ${after.length} after`)
    await assertAll(store, [...kept, deleted[0]])
    const again = await reopen(t, store)
    await assertAll(again, [...kept, deleted[0]])
    for (const f of deleted.slice(1)) assert.equal(await again.has(f.cid), false, 'a deleted fragment stays deleted')
    assert.equal(again.usage().fragmentCount, kept.length + 1)
    const second = await again.compact()
    assert.equal(second.corrupt, 0)
  })

  it('quarantines a corrupt record met during compaction instead of copying it', async t => {
    const store = await createStore(t, { segmentBytes: SEGMENT })
    const frags = await putAll(store, 30, 4000)
    const victim = frags[1]
    const where = await store.locate(victim.cid)
    const fh = await open(where?.path ?? '', 'r+')
    try { await fh.write(Buffer.from([1, 2, 3]), 0, 3, (where?.offset ?? 0) + 10) } finally { await fh.close() }
    for (const f of frags.slice(2)) await store.delete(f.cid)
    const result = await store.compact()
    assert.equal(result.corrupt, 1)
    assert.equal(await store.has(victim.cid), false)
    assert.equal((await readdir(join(store.root, 'quarantine'))).length, 1)
    await assertAll(store, [frags[0]])
  })

  it('stops a running compaction on stop() and loses nothing', async t => {
    const store = await createStore(t, { segmentBytes: SEGMENT })
    const frags = await putAll(store, 200, 3000)
    for (const f of frags.filter((_, i) => i % 2 === 1)) await store.delete(f.cid)
    const compacting = store.compact({ minDeadRatio: 0.3 }).then(() => 'finished', (err: Error) => err.name)
    await store.stop()
    assert.ok(['finished', 'AbortedError'].includes(await compacting))
    const again = await reopen(t, store)
    await assertAll(again, frags.filter((_, i) => i % 2 === 0))
    for (const f of frags.filter((_, i) => i % 2 === 1)) assert.equal(await again.has(f.cid), false)
    assert.equal(again.usage().fragmentCount, 100)
  })

  it('serves reads during compaction', async t => {
    const store = await createStore(t, { segmentBytes: SEGMENT })
    const frags = await putAll(store, 80, 3000)
    for (const f of frags.filter((_, i) => i % 2 === 1)) await store.delete(f.cid)
    const live = frags.filter((_, i) => i % 2 === 0)
    await Promise.all([store.compact({ minDeadRatio: 0.3 }), ...live.map(async f => {
      assert.deepEqual(new Uint8Array(await store.get(f.cid)), f.bytes)
    })])
    await assertAll(store, live)
  })
})
