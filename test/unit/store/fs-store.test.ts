/**
 * What only the file store has: files on disk, crash leftovers, quarantine, layout, a full disk.
 */
import assert from 'node:assert/strict'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createFsStore } from '../../../src/store/index.js'
import { randomFragment } from '../../compliance/fragment-store-tests.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'
import { corruptOnDisk, createSmallFs, createStore, reopenStore } from './fs-helpers.js'

/** Fragments of 64 KiB and more get files (the default threshold, 1 MiB, would pack the sizes used here). */
const FILES_FROM_64K = { packThresholdBytes: 64 * 1024 }

describe('FsFragmentStore on disk', () => {
  it('packs fragments below 1 MiB by default', async t => {
    const store = await createStore(t)
    assert.equal(store.packThresholdBytes, 1024 * 1024)
    const below = randomFragment(1024 * 1024 - 1)
    const at = randomFragment(1024 * 1024)
    await store.put(below.cid, below.bytes)
    await store.put(at.cid, at.bytes)
    assert.equal((await store.locate(below.cid))?.packed, true)
    assert.equal((await store.locate(at.cid))?.packed, false)
  })

  it('puts a large fragment in fragments/<2 chars>/<cid> and a small one in a pack', async t => {
    const store = await createStore(t, FILES_FROM_64K)
    const large = randomFragment(100_000)
    const small = randomFragment(1000)
    await store.put(large.cid, large.bytes)
    await store.put(small.cid, small.bytes)
    const key = large.cid.toString()
    const file = join(store.root, 'fragments', key.slice(-3, -1), key)
    assert.deepEqual(new Uint8Array(await readFile(file)), large.bytes)
    assert.deepEqual(await store.locate(large.cid), { path: file, offset: 0, length: 100_000, packed: false })
    const where = await store.locate(small.cid)
    assert.equal(where?.packed, true)
    assert.match(where?.path ?? '', /packs\/00000001\.pack$/)
    assert.equal(JSON.parse(await readFile(join(store.root, 'store.json'), 'utf8')).packThresholdBytes, 64 * 1024)
  })

  it('removes temp files left by a crash at start, and leaves none after a put', async t => {
    const store = await createStore(t, FILES_FROM_64K)
    const f = randomFragment(200_000)
    await store.put(f.cid, f.bytes)
    assert.deepEqual(await readdir(join(store.root, 'tmp')), [])
    await writeFile(join(store.root, 'tmp', `${f.cid.toString()}.999.1.tmp`), f.bytes.subarray(0, 1000))
    const again = await reopenStore(store)
    onCleanup(t, async () => { await again.stop() })
    assert.deepEqual(await readdir(join(store.root, 'tmp')), [])
    assert.equal(again.usage().fragmentCount, 1)
    assert.equal(again.usage().usedBytes, 200_000)
  })

  it('moves a corrupt file to quarantine/ and names the CID and both paths in the error', async t => {
    const store = await createStore(t, FILES_FROM_64K)
    const f = randomFragment(100_000)
    await store.put(f.cid, f.bytes)
    const where = await store.locate(f.cid)
    await corruptOnDisk(store, f.cid, new Uint8Array(100_000))
    const err = await store.get(f.cid).then(() => undefined, (e: unknown) => e as Error & { details: Record<string, unknown> })
    assert.equal(err?.name, 'IntegrityError')
    assert.equal(err?.details.cid, f.cid.toString())
    assert.equal(err?.details.path, where?.path)
    const quarantined = await readdir(join(store.root, 'quarantine'))
    assert.equal(quarantined.length, 1)
    assert.ok(quarantined[0].startsWith(f.cid.toString()))
    assert.equal(err?.details.quarantine, join(store.root, 'quarantine', quarantined[0]))
    await assert.rejects(stat(where?.path ?? ''), { code: 'ENOENT' })
  })

  it('replaces a file truncated by power loss on the next put of the same fragment', async t => {
    const store = await createStore(t, FILES_FROM_64K)
    const f = randomFragment(300_000)
    await store.put(f.cid, f.bytes)
    await corruptOnDisk(store, f.cid, f.bytes.subarray(0, 4096))
    const again = await reopenStore(store)
    onCleanup(t, async () => { await again.stop() })
    assert.equal(again.usage().usedBytes, 4096, 'the start-up scan counts what is on disk')
    await again.put(f.cid, f.bytes)
    assert.deepEqual(new Uint8Array(await again.get(f.cid)), f.bytes)
    assert.equal(again.usage().usedBytes, 300_000)
    assert.equal(again.usage().fragmentCount, 1)
    assert.equal((await readdir(join(store.root, 'quarantine'))).length, 1)
  })

  it('keeps the pack threshold it was created with', async t => {
    const dir = await createTempDir(t)
    const first = await createStore(t, { path: join(dir, 's'), packThresholdBytes: 0 })
    await first.stop()
    const second = await createStore(t, { path: join(dir, 's'), packThresholdBytes: 1 << 20 })
    assert.equal(second.packThresholdBytes, 0)
    const f = randomFragment(100)
    await second.put(f.cid, f.bytes)
    assert.equal((await second.locate(f.cid))?.packed, false)
  })

  it('refuses bad settings in one InvalidConfigError', () => {
    assert.throws(() => createFsStore({ path: '/tmp/x', packThresholdBytes: -1, segmentBytes: 10 }), (err: Error) => {
      assert.equal(err.name, 'InvalidConfigError')
      assert.match(err.message, /packThresholdBytes.*segmentBytes/)
      return true
    })
  })

  it('refuses a store written by a newer layout', async t => {
    const dir = await createTempDir(t)
    await writeFile(join(dir, 'store.json'), JSON.stringify({ version: 99, packThresholdBytes: 0, shardChars: 2 }))
    const store = createFsStore({ path: dir })
    onCleanup(t, async () => { await store.stop() })
    await assert.rejects(store.start(), { name: 'InvalidConfigError' })
  })

  it('computes capacity from the disk when none is configured', async t => {
    const store = await createStore(t, FILES_FROM_64K)
    const u = store.usage()
    assert.ok(u.capacityBytes > 0 && u.capacityBytes < Number.MAX_SAFE_INTEGER)
    assert.ok(u.freeBytes <= u.capacityBytes)
  })

  it('syncs a fragment deleted since its put without error', async t => {
    const store = await createStore(t, FILES_FROM_64K)
    const f = randomFragment(100_000)
    await store.put(f.cid, f.bytes)
    await store.delete(f.cid)
    await store.sync([f.cid])
    await store.sync()
  })

  it('refuses calls before start and after stop', async t => {
    const dir = await createTempDir(t)
    const store = createFsStore({ path: dir })
    const f = randomFragment(10)
    await assert.rejects(store.put(f.cid, f.bytes), { name: 'IoError' })
    await store.start()
    await store.stop()
    await store.stop()
    await assert.rejects(store.get(f.cid), { name: 'IoError' })
  })

  it('turns a full disk into NoSpaceError, keeps serving reads, and leaves no temp files', async t => {
    const mnt = await createSmallFs(t, 2 * 1024 * 1024)
    if (mnt == null) { t.skip('cannot mount a tmpfs here (not root)'); return }
    const store = await createStore(t, { ...FILES_FROM_64K, path: join(mnt, 'store'), capacityBytes: 1024 ** 3, segmentBytes: 256 * 1024 })
    const stored: Array<ReturnType<typeof randomFragment>> = []
    let failure: unknown
    for (let i = 0; i < 100 && failure == null; i++) {
      const f = randomFragment(i % 2 === 0 ? 150_000 : 30_000)
      try {
        await store.put(f.cid, f.bytes)
        stored.push(f)
      } catch (err) {
        failure = err
      }
    }
    assert.ok(failure != null, 'a 2 MiB disk fills up')
    assert.equal((failure as Error).name, 'NoSpaceError')
    assert.equal((failure as Error & { code: string }).code, 'ENOSPC')
    assert.ok(stored.length > 3)
    for (const f of stored) assert.deepEqual(new Uint8Array(await store.get(f.cid)), f.bytes)
    assert.deepEqual(await readdir(join(store.root, 'tmp')), [])
    // Small fragments (packs) fail the same way when the disk is full.
    let packFailure: unknown
    for (let i = 0; i < 200 && packFailure == null; i++) {
      const f = randomFragment(20_000)
      await store.put(f.cid, f.bytes).then(() => { stored.push(f) }, (err: unknown) => { packFailure = err })
    }
    assert.equal((packFailure as Error | undefined)?.name, 'NoSpaceError')
    await store.sync()
    const again = await reopenStore(store, { ...FILES_FROM_64K, segmentBytes: 256 * 1024 })
    onCleanup(t, async () => { await again.stop() })
    for (const f of stored) assert.deepEqual(new Uint8Array(await again.get(f.cid)), f.bytes)
  })
})
