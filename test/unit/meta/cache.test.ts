/**
 * The committed cache: stale database reads never overwrite newer commits, complete directories
 * answer absent names without the disk and stop doing so once an entry is evicted, and a tiny cache
 * still gives exact answers.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ABSENT, CommittedCache } from '../../../src/meta/cache.js'
import { createMetaStore } from '../../../src/meta/index.js'
import type { DentryRec, InodeRec } from '../../../src/meta/records.js'
import { ROOT_INO } from '../../../src/meta/types.js'
import { onCleanup } from '../../helpers/tmp.js'

function dir (ino: number, entries: number): InodeRec {
  return { ino, node: `n${ino}`, type: 'dir', mode: 0o755, uid: 0, gid: 0, nlink: 2, size: 0, rdev: 0, atimeNs: 0n, mtimeNs: 0n, ctimeNs: 0n, parent: 1, entries, stripeSize: 0 }
}

function dentry (parent: number, name: string, ino: number): DentryRec {
  return { parent, name, ino, type: 'file', cookie: ino }
}

describe('CommittedCache', () => {
  it('refuses a fill that a commit made stale, accepts an unrelated one', () => {
    const c = new CommittedCache(100)
    const gen = c.readStarted()
    c.commit(new Map([['i5', dir(5, 3)]]))
    c.fill('i5', dir(5, 1), gen)
    assert.equal((c.get('i5') as InodeRec).entries, 3, 'the committed value stays')
    c.commit(new Map([['i6', dir(6, 0)]]))
    c.fill('d9/a', ABSENT, gen)
    assert.equal(c.get('d9/a'), ABSENT, 'no commit since the read touched d9/a')
    const before = c.readStarted()
    c.commit(new Map([['d9/b', dentry(9, 'b', 10)]]))
    c.clear()
    c.fill('d9/c', ABSENT, before)
    assert.equal(c.get('d9/c'), undefined, 'after clear() no older read may fill')
  })

  it('answers absent names of a complete directory until one of its entries is evicted', () => {
    const c = new CommittedCache(16)
    c.commit(new Map([['i7', dir(7, 0)]]))
    assert.equal(c.get('d7/anything'), ABSENT)
    c.commit(new Map<string, InodeRec | DentryRec>([['d7/a', dentry(7, 'a', 8)], ['i7', dir(7, 1)]]))
    assert.equal(c.get('d7/other'), ABSENT)
    for (let i = 0; i < 40; i++) c.commit(new Map([[`i${100 + i}`, dir(100 + i, 1)]]))
    assert.equal(c.get('d7/a'), undefined, 'evicted')
    assert.equal(c.get('d7/other'), undefined, 'no longer complete: a miss must read the database')
  })

  it('marks a fully listed directory complete unless it changed during the listing', () => {
    const c = new CommittedCache(100)
    let gen = c.readStarted()
    c.fill('d3/a', dentry(3, 'a', 4), gen)
    c.markComplete(3, ['d3/a'], gen)
    assert.equal(c.get('d3/zzz'), ABSENT)
    gen = c.readStarted()
    c.fill('d5/a', dentry(5, 'a', 6), gen)
    c.commit(new Map<string, InodeRec | DentryRec>([['d5/b', dentry(5, 'b', 7)], ['i5', dir(5, 2)]]))
    c.markComplete(5, ['d5/a'], gen)
    assert.equal(c.get('d5/zzz'), undefined, 'an entry was added while listing: not complete')
    gen = c.readStarted()
    c.markComplete(8, ['d8/missing'], gen)
    assert.equal(c.get('d8/zzz'), undefined, 'an entry that is not cached: not complete')
  })

  it('knows new inodes have no xattrs until one is evicted or too big to cache', () => {
    const c = new CommittedCache(16)
    c.commit(new Map([['i9', dir(9, 0)]]), [9])
    assert.equal(c.get('x9/security.capability'), ABSENT)
    c.commit(new Map([['x9/user.big', new Uint8Array(5000)]]))
    assert.equal(c.get('x9/security.capability'), undefined, 'a value too big to cache ends completeness')
    c.commit(new Map([['i10', dir(10, 0)]]), [10])
    c.commit(new Map([['x10/user.a', new Uint8Array(1)]]))
    assert.deepEqual(c.get('x10/user.a'), new Uint8Array(1))
    for (let i = 0; i < 40; i++) c.commit(new Map([[`i${200 + i}`, dir(200 + i, 1)]]))
    assert.equal(c.get('x10/user.a'), undefined)
    assert.equal(c.get('x10/user.b'), undefined, 'after an eviction a miss must read the database')
  })

  it('gives exact answers through a store with a tiny cache', async (t) => {
    const s = createMetaStore({ path: ':memory:', deviceId: 'dev', cacheEntries: 16 })
    onCleanup(t, async () => { await s.stop() })
    await s.start()
    const d = await s.create(ROOT_INO, 'd', { type: 'dir', mode: 0o755, uid: 0, gid: 0 })
    const inos: number[] = []
    for (let i = 0; i < 100; i++) {
      inos.push((await s.create(d.ino, `f${i}`, { type: 'file', mode: 0o644, uid: 0, gid: 0 })).ino)
      if (i % 10 === 0) await s.setxattr(inos[i], 'user.i', new Uint8Array([i]))
    }
    for (let i = 0; i < 100; i++) {
      await assert.rejects(s.create(d.ino, `f${i}`, { type: 'file', mode: 0o644, uid: 0, gid: 0 }), { name: 'ExistsError' })
      assert.equal((await s.lookup(d.ino, `f${i}`))?.ino, inos[i])
      assert.deepEqual(await s.getxattr(inos[i], 'user.i'), i % 10 === 0 ? new Uint8Array([i]) : undefined)
      if (i % 10 === 0) await assert.rejects(s.setxattr(inos[i], 'user.i', new Uint8Array(1), { create: true }), { name: 'ExistsError' })
    }
    assert.equal((await s.getattr(d.ino)).nlink, 2)
    assert.equal((await s.readdir(d.ino, 0, 1000)).length, 100)
    await assert.rejects(s.create(d.ino, 'f50', { type: 'file', mode: 0o644, uid: 0, gid: 0 }), { name: 'ExistsError' })
    assert.deepEqual((await s.check()).problems, [])
  })
})
