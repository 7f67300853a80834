/**
 * The MetaStore contract, run against every implementation (`metaStoreTests({ setup, teardown })`):
 * POSIX rules, link counts, times, rename rules, xattrs, content deltas, readdir cookies, fsck,
 * group-committed concurrency, and replay of the signed op log on another device.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign as edSign } from 'node:crypto'
import { describe, it, type TestContext } from 'node:test'
import type { Attr, MetaStore, NodeInit, StripeRef } from '../../src/meta/types.js'
import { ROOT_INO } from '../../src/meta/types.js'
import { onCleanup } from '../helpers/tmp.js'

export interface MetaStoreTestOptions {
  deviceId?: string
  sign?: (bytes: Uint8Array) => Uint8Array
  publicKey?: Uint8Array
}

export interface MetaStoreTestTarget {
  /** A fresh, started store. */
  setup: (t: TestContext, options?: MetaStoreTestOptions) => Promise<MetaStore>
  /** Stops it and removes what setup created. */
  teardown: (store: MetaStore) => Promise<void>
}

const FILE: NodeInit = { type: 'file', mode: 0o644, uid: 1000, gid: 1000 }
const DIR: NodeInit = { type: 'dir', mode: 0o755, uid: 1000, gid: 1000 }

/** An Ed25519 signer for `deviceId` (node:crypto), with its raw public key. */
export function testSigner (): { sign: (b: Uint8Array) => Uint8Array, publicKey: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url')
  return { sign: (b) => new Uint8Array(edSign(null, b, privateKey)), publicKey: new Uint8Array(raw) }
}

export function stripe (index: number, length: number, tag = 'a', n = 3, k = 2): StripeRef {
  return {
    index, length, id: `stripe-${tag}-${index}`, k, n, codecId: 1,
    fragments: Array.from({ length: n }, (_, i) => `cid-${tag}-${index}-${i}`), holders: Array.from({ length: n }, () => ['dev-a'])
  }
}

async function rejects (p: Promise<unknown>, name: string): Promise<void> {
  await assert.rejects(p, (err: Error) => { assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`); return true })
}

/** Every name under `dir` as "path type nlink size mode", recursively, sorted (for tree equality). */
export async function dumpTree (s: MetaStore, dir = ROOT_INO, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for (let cookie = 0; ;) {
    const page = await s.readdir(dir, cookie, 50)
    if (page.length === 0) break
    for (const e of page) {
      const a = await s.getattr(e.ino)
      const x = (await s.listxattr(e.ino)).join(',')
      const stripes = a.type === 'file' ? (await s.getStripes(e.ino, 0, 1 << 30)).map(r => `${r.index}:${r.id}`).join(',') : ''
      const target = a.type === 'symlink' ? await s.readlink(e.ino) : ''
      out.push(`${prefix}/${e.name} ${a.type} n${a.nlink} s${a.size} m${a.mode.toString(8)} ${a.uid}:${a.gid} t${a.mtimeNs}/${a.ctimeNs} x[${x}] [${stripes}] ${target}`)
      if (a.type === 'dir') out.push(...await dumpTree(s, e.ino, `${prefix}/${e.name}`))
    }
    cookie = page[page.length - 1].cookie
  }
  return out.sort()
}

export function metaStoreTests (target: MetaStoreTestTarget): void {
  const open = async (t: TestContext, options?: MetaStoreTestOptions): Promise<MetaStore> => {
    const s = await target.setup(t, options)
    onCleanup(t, async () => { await target.teardown(s) })
    return s
  }

  describe('tree basics', () => {
    it('has a root directory that is its own parent', async (t) => {
      const s = await open(t)
      const root = await s.getattr(ROOT_INO)
      assert.equal(root.type, 'dir')
      assert.equal(root.mode, 0o755)
      assert.equal(root.nlink, 2)
      assert.equal(await s.parentOf(ROOT_INO), ROOT_INO)
      assert.equal(await s.pathOf(ROOT_INO), '/')
    })

    it('creates every node type with the right attributes and parent links', async (t) => {
      const s = await open(t)
      const before = await s.getattr(ROOT_INO)
      const d = await s.create(ROOT_INO, 'd', DIR)
      const f = await s.create(d.ino, 'f', { ...FILE, mode: 0o100644 })
      const l = await s.create(d.ino, 'l', { type: 'symlink', mode: 0o777, uid: 0, gid: 0, target: 'f' })
      const p = await s.create(d.ino, 'p', { type: 'fifo', mode: 0o600, uid: 0, gid: 0 })
      const c = await s.create(d.ino, 'c', { type: 'char', mode: 0o600, uid: 0, gid: 0, rdev: 0x0103 })
      assert.equal(d.nlink, 2)
      assert.equal(f.nlink, 1)
      assert.equal(f.mode, 0o644, 'type bits are stripped from mode')
      assert.equal(l.size, 1)
      assert.equal(await s.readlink(l.ino), 'f')
      assert.equal(p.type, 'fifo')
      assert.equal(c.rdev, 0x0103)
      const root = await s.getattr(ROOT_INO)
      assert.equal(root.nlink, 3, 'a subdirectory adds a link to its parent')
      assert.ok(root.mtimeNs >= before.mtimeNs && root.ctimeNs >= before.ctimeNs)
      assert.equal((await s.getattr(d.ino)).nlink, 2, 'files do not add links to their directory')
      assert.deepEqual(await s.lookup(d.ino, 'f'), await s.getattr(f.ino))
      assert.equal(await s.lookup(d.ino, 'nope'), undefined)
      assert.equal(await s.parentOf(d.ino), ROOT_INO)
      assert.equal(await s.pathOf(f.ino), '/d/f')
      await rejects(s.readlink(f.ino), 'InvalidArgumentError')
    })

    it('keeps the creation time given, to the nanosecond, and updates the parent times', async (t) => {
      const s = await open(t)
      const f = await s.create(ROOT_INO, 'f', { ...FILE, timeNs: 1_700_000_000_123_456_789n })
      assert.equal(f.mtimeNs, 1_700_000_000_123_456_789n)
      const root = await s.getattr(ROOT_INO)
      assert.equal(root.mtimeNs, 1_700_000_000_123_456_789n)
      assert.equal(root.ctimeNs, root.mtimeNs)
    })

    it('refuses bad names and bad places', async (t) => {
      const s = await open(t)
      const f = await s.create(ROOT_INO, 'f', FILE)
      await rejects(s.create(ROOT_INO, 'f', FILE), 'ExistsError')
      await rejects(s.create(ROOT_INO, 'f', DIR), 'ExistsError')
      await rejects(s.create(f.ino, 'x', FILE), 'NotDirectoryError')
      await rejects(s.create(987654, 'x', FILE), 'NotFoundError')
      await rejects(s.create(ROOT_INO, 'x'.repeat(256), FILE), 'NameTooLongError')
      await rejects(s.create(ROOT_INO, 'é'.repeat(128), FILE), 'NameTooLongError')
      await s.create(ROOT_INO, 'x'.repeat(255), FILE)
      for (const bad of ['', '.', '..', 'a/b', 'a\0b']) await rejects(s.create(ROOT_INO, bad, FILE), 'InvalidArgumentError')
      await rejects(s.create(ROOT_INO, 'l', { type: 'symlink', mode: 0o777, uid: 0, gid: 0, target: 't'.repeat(4097) }), 'NameTooLongError')
      const l = await s.create(ROOT_INO, 'l', { type: 'symlink', mode: 0o777, uid: 0, gid: 0, target: 't'.repeat(4096) })
      assert.equal(l.size, 4096)
      await rejects(s.lookup(f.ino, 'x'), 'NotDirectoryError')
      await rejects(s.lookup(987654, 'x'), 'NotFoundError')
      await rejects(s.getattr(987654), 'NotFoundError')
      await rejects(s.readdir(f.ino, 0, 10), 'NotDirectoryError')
      await rejects(s.parentOf(f.ino), 'NotDirectoryError')
    })
  })

  describe('unlink, rmdir, link', () => {
    it('keeps an unlinked inode readable until it is released', async (t) => {
      const s = await open(t)
      const f = await s.create(ROOT_INO, 'f', FILE)
      await s.setContent(f.ino, { size: 10, stripeSize: 8, stripes: [stripe(0, 8), stripe(1, 2)] })
      await s.setxattr(f.ino, 'user.k', new Uint8Array([1]))
      await s.setattr(ROOT_INO, { mtimeNs: 0n, ctimeNs: 0n })
      const after = await s.unlink(ROOT_INO, 'f')
      assert.equal(after.nlink, 0)
      assert.ok((await s.getattr(ROOT_INO)).mtimeNs > 0n, 'unlink sets the parent mtime')
      assert.equal(await s.lookup(ROOT_INO, 'f'), undefined)
      assert.equal((await s.getattr(f.ino)).size, 10)
      assert.equal((await s.getStripes(f.ino, 0, 10)).length, 2)
      assert.deepEqual(await s.getxattr(f.ino, 'user.k'), new Uint8Array([1]))
      assert.equal(await s.pathOf(f.ino), undefined)
      assert.equal(s.stats().files, 1, 'an open unlinked file still counts')
      await s.releaseInode(f.ino)
      await rejects(s.getattr(f.ino), 'NotFoundError')
      assert.equal(s.stats().files, 0)
      assert.equal(s.stats().logicalBytes, 0)
      const frags: string[] = []
      for await (const c of s.referencedFragments()) frags.push(c)
      assert.deepEqual(frags, [], 'a released inode references no fragments')
      await s.releaseInode(f.ino) // idempotent
      assert.equal((await s.check()).ok, true)
    })

    it('refuses to unlink directories and rmdir files or non-empty directories', async (t) => {
      const s = await open(t)
      const d = await s.create(ROOT_INO, 'd', DIR)
      const f = await s.create(d.ino, 'f', FILE)
      await rejects(s.unlink(ROOT_INO, 'd'), 'IsDirectoryError')
      await rejects(s.rmdir(ROOT_INO, 'd'), 'NotEmptyError')
      await rejects(s.rmdir(d.ino, 'f'), 'NotDirectoryError')
      await rejects(s.unlink(ROOT_INO, 'missing'), 'NotFoundError')
      await rejects(s.rmdir(ROOT_INO, 'missing'), 'NotFoundError')
      await s.unlink(d.ino, 'f')
      await s.releaseInode(f.ino)
      await s.rmdir(ROOT_INO, 'd')
      await rejects(s.getattr(d.ino), 'NotFoundError')
      assert.equal((await s.getattr(ROOT_INO)).nlink, 2)
      assert.equal(s.stats().dirs, 1)
    })

    it('hard-links files (not directories) and counts links', async (t) => {
      const s = await open(t)
      const d = await s.create(ROOT_INO, 'd', DIR)
      const f = await s.create(ROOT_INO, 'f', FILE)
      const linked = await s.link(f.ino, d.ino, 'g')
      assert.equal(linked.nlink, 2)
      assert.equal((await s.lookup(d.ino, 'g'))?.ino, f.ino)
      await rejects(s.link(d.ino, ROOT_INO, 'd2'), 'NotPermittedError')
      await rejects(s.link(f.ino, ROOT_INO, 'f'), 'ExistsError')
      await rejects(s.link(f.ino, f.ino, 'x'), 'NotDirectoryError')
      assert.equal((await s.unlink(ROOT_INO, 'f')).nlink, 1)
      assert.equal((await s.getattr(f.ino)).nlink, 1)
      assert.equal(await s.pathOf(f.ino), '/d/g')
      assert.equal((await s.check()).ok, true)
    })
  })

  describe('rename', () => {
    it('moves files and directories across parents, keeping link counts', async (t) => {
      const s = await open(t)
      const a = await s.create(ROOT_INO, 'a', DIR)
      const b = await s.create(ROOT_INO, 'b', DIR)
      const sub = await s.create(a.ino, 'sub', DIR)
      const f = await s.create(a.ino, 'f', FILE)
      for (const ino of [a.ino, b.ino, f.ino]) await s.setattr(ino, { mtimeNs: 0n, ctimeNs: 0n })
      assert.deepEqual(await s.rename(a.ino, 'f', b.ino, 'g'), {})
      for (const ino of [a.ino, b.ino]) {
        const p = await s.getattr(ino)
        assert.ok(p.mtimeNs > 0n && p.ctimeNs > 0n, 'both parents get new mtime and ctime')
      }
      assert.ok((await s.getattr(f.ino)).ctimeNs > 0n, 'the moved inode gets a new ctime')
      assert.equal((await s.getattr(f.ino)).mtimeNs, 0n, 'but keeps its mtime')
      assert.equal((await s.lookup(b.ino, 'g'))?.ino, f.ino)
      assert.equal(await s.lookup(a.ino, 'f'), undefined)
      await s.rename(a.ino, 'sub', b.ino, 'sub2')
      assert.equal((await s.getattr(a.ino)).nlink, 2)
      assert.equal((await s.getattr(b.ino)).nlink, 3)
      assert.equal(await s.parentOf(sub.ino), b.ino)
      assert.equal(await s.pathOf(sub.ino), '/b/sub2')
      await rejects(s.rename(a.ino, 'missing', b.ino, 'x'), 'NotFoundError')
      assert.equal((await s.check()).ok, true)
    })

    it('replaces by the POSIX rules', async (t) => {
      const s = await open(t)
      const f1 = await s.create(ROOT_INO, 'f1', FILE)
      const f2 = await s.create(ROOT_INO, 'f2', FILE)
      const d1 = await s.create(ROOT_INO, 'd1', DIR)
      const d2 = await s.create(ROOT_INO, 'd2', DIR)
      const full = await s.create(ROOT_INO, 'full', DIR)
      await s.create(full.ino, 'x', FILE)
      await rejects(s.rename(ROOT_INO, 'd1', ROOT_INO, 'f1'), 'NotDirectoryError')
      await rejects(s.rename(ROOT_INO, 'f1', ROOT_INO, 'd1'), 'IsDirectoryError')
      await rejects(s.rename(ROOT_INO, 'd1', ROOT_INO, 'full'), 'NotEmptyError')
      const r1 = await s.rename(ROOT_INO, 'f1', ROOT_INO, 'f2')
      assert.equal(r1.replaced?.ino, f2.ino)
      assert.equal(r1.replaced?.nlink, 0)
      assert.equal((await s.lookup(ROOT_INO, 'f2'))?.ino, f1.ino)
      assert.equal((await s.getattr(f2.ino)).nlink, 0, 'the replaced file lives until released')
      await s.releaseInode(f2.ino)
      const r2 = await s.rename(ROOT_INO, 'd1', ROOT_INO, 'd2')
      assert.equal(r2.replaced?.ino, d2.ino)
      await rejects(s.getattr(d2.ino), 'NotFoundError')
      assert.equal((await s.lookup(ROOT_INO, 'd2'))?.ino, d1.ino)
      assert.equal((await s.getattr(ROOT_INO)).nlink, 4, 'root: 2 + d2 + full')
      assert.equal((await s.check()).ok, true)
    })

    it('succeeds without doing anything for two names of one inode', async (t) => {
      const s = await open(t)
      const f = await s.create(ROOT_INO, 'f', FILE)
      await s.link(f.ino, ROOT_INO, 'g')
      const ops = s.stats().ops
      assert.deepEqual(await s.rename(ROOT_INO, 'f', ROOT_INO, 'g'), {})
      assert.equal((await s.lookup(ROOT_INO, 'f'))?.ino, f.ino)
      assert.equal((await s.lookup(ROOT_INO, 'g'))?.ino, f.ino)
      assert.equal((await s.getattr(f.ino)).nlink, 2)
      assert.equal(s.stats().ops, ops, 'a no-op is not logged')
    })

    it('refuses to move a directory into itself or below itself', async (t) => {
      const s = await open(t)
      const a = await s.create(ROOT_INO, 'a', DIR)
      const b = await s.create(a.ino, 'b', DIR)
      const c = await s.create(b.ino, 'c', DIR)
      await rejects(s.rename(ROOT_INO, 'a', a.ino, 'x'), 'InvalidArgumentError')
      await rejects(s.rename(ROOT_INO, 'a', c.ino, 'x'), 'InvalidArgumentError')
      await rejects(s.rename(a.ino, 'b', c.ino, 'x', { exchange: false }), 'InvalidArgumentError')
      await rejects(s.rename(b.ino, 'c', ROOT_INO, 'a'), 'NotEmptyError')
      await s.rename(b.ino, 'c', ROOT_INO, 'c')
      assert.equal((await s.check()).ok, true)
    })

    it('honours RENAME_NOREPLACE and RENAME_EXCHANGE', async (t) => {
      const s = await open(t)
      const a = await s.create(ROOT_INO, 'a', DIR)
      const f = await s.create(ROOT_INO, 'f', FILE)
      const d = await s.create(a.ino, 'd', DIR)
      await rejects(s.rename(ROOT_INO, 'f', ROOT_INO, 'a', { noReplace: true }), 'ExistsError')
      await s.rename(ROOT_INO, 'f', ROOT_INO, 'f2', { noReplace: true })
      await rejects(s.rename(ROOT_INO, 'f2', ROOT_INO, 'none', { exchange: true }), 'NotFoundError')
      await rejects(s.rename(ROOT_INO, 'f2', ROOT_INO, 'a', { exchange: true, noReplace: true }), 'InvalidArgumentError')
      const cookies = new Map((await s.readdir(ROOT_INO, 0, 100)).map(e => [e.name, e.cookie]))
      // Swap a file at the root with a directory one level down.
      await s.rename(ROOT_INO, 'f2', a.ino, 'd', { exchange: true })
      assert.equal((await s.lookup(ROOT_INO, 'f2'))?.ino, d.ino)
      assert.equal((await s.lookup(a.ino, 'd'))?.ino, f.ino)
      assert.equal(await s.parentOf(d.ino), ROOT_INO)
      assert.equal((await s.getattr(ROOT_INO)).nlink, 4, 'root gained the directory d')
      assert.equal((await s.getattr(a.ino)).nlink, 2, 'a lost it')
      assert.equal((await s.readdir(ROOT_INO, 0, 100)).find(e => e.name === 'f2')?.cookie, cookies.get('f2'), 'exchanged names keep their cookies')
      await rejects(s.rename(ROOT_INO, 'a', a.ino, 'd', { exchange: true }), 'InvalidArgumentError')
      assert.equal((await s.check()).ok, true)
    })
  })

  describe('attributes and content', () => {
    it('keeps signed nanosecond times exactly and sets ctime on every change', async (t) => {
      const s = await open(t)
      const f = await s.create(ROOT_INO, 'f', FILE)
      for (const ns of [-1n, -1_000_000_001n, 0n, 1n, 2n ** 62n + 7n, -(2n ** 62n) - 3n, 999_999_999n]) {
        const a = await s.setattr(f.ino, { atimeNs: ns, mtimeNs: ns - 1n })
        assert.equal(a.atimeNs, ns)
        assert.equal(a.mtimeNs, ns - 1n)
        assert.equal((await s.getattr(f.ino)).atimeNs, ns)
      }
      const ct = await s.setattr(f.ino, { mode: 0o4755, uid: 7, gid: 8, ctimeNs: 5n })
      assert.deepEqual([ct.mode, ct.uid, ct.gid, ct.ctimeNs], [0o4755, 7, 8, 5n])
      const again = await s.setattr(f.ino, { mode: 0o600 })
      assert.ok(again.ctimeNs > 5n, 'ctime defaults to now')
      await rejects(s.setattr(f.ino, { atimeNs: 2n ** 100n }), 'InvalidArgumentError')
      await rejects(s.setattr(987654, { mode: 0o600 }), 'NotFoundError')
    })

    it('stores manifest deltas, holes and truncation without rewriting the manifest', async (t) => {
      const s = await open(t)
      const f = await s.create(ROOT_INO, 'f', FILE)
      assert.equal(await s.stripeSizeOf(f.ino), undefined)
      const a = await s.setContent(f.ino, { size: 20, stripeSize: 8, stripes: [stripe(0, 8), stripe(1, 8), stripe(2, 4)], mtimeNs: 42n })
      assert.equal(a.size, 20)
      assert.equal(a.mtimeNs, 42n)
      assert.equal(await s.stripeSizeOf(f.ino), 8)
      assert.deepEqual(await s.getStripes(f.ino, 0, 3), [stripe(0, 8), stripe(1, 8), stripe(2, 4)])
      await s.setContent(f.ino, { size: 20, stripeSize: 8, stripes: [stripe(1, 8, 'b')], holes: [0] })
      assert.deepEqual((await s.getStripes(f.ino, 0, 10)).map(r => r.id), ['stripe-b-1', 'stripe-a-2'])
      assert.deepEqual((await s.getStripes(f.ino, 2, 3)).map(r => r.index), [2])
      await rejects(s.setContent(f.ino, { size: 20, stripeSize: 4, stripes: [] }), 'InvalidArgumentError')
      await rejects(s.setContent(f.ino, { size: 10, stripeSize: 8, stripes: [stripe(1, 8)] }), 'InvalidArgumentError')
      await rejects(s.setContent(f.ino, { size: 20, stripeSize: 8, stripes: [stripe(0, 8), stripe(0, 8)] }), 'InvalidArgumentError')
      await rejects(s.setContent(ROOT_INO, { size: 0, stripeSize: 8, stripes: [] }), 'IsDirectoryError')
      const tr = await s.setattr(f.ino, { size: 9 })
      assert.equal(tr.size, 9)
      assert.deepEqual((await s.getStripes(f.ino, 0, 10)).map(r => r.index), [1], 'stripes wholly past the size go; a cut one stays')
      await s.setattr(f.ino, { size: 0 })
      await s.setContent(f.ino, { size: 4, stripeSize: 4, stripes: [stripe(0, 4)] })
      assert.equal(await s.stripeSizeOf(f.ino), 4, 'an empty file may change its stripe size')
      await rejects(s.setattr(ROOT_INO, { size: 0 }), 'IsDirectoryError')
      const big = await s.setattr(f.ino, { size: Number.MAX_SAFE_INTEGER })
      assert.equal(big.size, Number.MAX_SAFE_INTEGER)
      assert.equal(s.stats().logicalBytes, Number.MAX_SAFE_INTEGER)
      await rejects(s.setattr(f.ino, { size: -1 }), 'InvalidArgumentError')
      assert.equal((await s.check()).ok, true)
    })

    it('handles a 64 GiB file of 16384 stripes in deltas', async (t) => {
      const s = await open(t)
      const f = await s.create(ROOT_INO, 'big', FILE)
      const MiB4 = 4 * 1024 * 1024
      const count = 16384
      for (let first = 0; first < count; first += 2048) {
        const stripes = Array.from({ length: 2048 }, (_, i) => stripe(first + i, MiB4, 'big', 1, 1))
        await s.setContent(f.ino, { size: (first + 2048) * MiB4, stripeSize: MiB4, stripes })
      }
      assert.equal((await s.getattr(f.ino)).size, 64 * 1024 ** 3)
      let n = 0
      for await (const r of s.allStripes()) { assert.equal(r.ino, f.ino); assert.equal(r.stripe.index, n++) }
      assert.equal(n, count)
      const one = await s.setContent(f.ino, { size: 64 * 1024 ** 3, stripeSize: MiB4, stripes: [stripe(9000, MiB4, 'new', 1, 1)] })
      assert.equal(one.size, 64 * 1024 ** 3)
      assert.equal((await s.getStripes(f.ino, 9000, 9001))[0].id, 'stripe-new-9000')
      await s.setattr(f.ino, { size: MiB4 * 10 + 1 })
      assert.equal((await s.getStripes(f.ino, 0, count)).length, 11)
    })

    it('lists every referenced fragment', async (t) => {
      const s = await open(t)
      const f = await s.create(ROOT_INO, 'f', FILE)
      const g = await s.create(ROOT_INO, 'g', FILE)
      await s.setContent(f.ino, { size: 16, stripeSize: 8, stripes: [stripe(0, 8, 'f'), stripe(1, 8, 'f')] })
      await s.setContent(g.ino, { size: 8, stripeSize: 8, stripes: [stripe(0, 8, 'g')] })
      const frags: string[] = []
      for await (const c of s.referencedFragments()) frags.push(c)
      assert.equal(frags.length, 9)
      assert.ok(frags.includes('cid-g-0-2'))
      const all: string[] = []
      for await (const r of s.allStripes()) all.push(`${r.ino}:${r.stripe.index}`)
      assert.deepEqual(all, [`${f.ino}:0`, `${f.ino}:1`, `${g.ino}:0`])
    })
  })

  describe('extended attributes', () => {
    it('sets, gets, lists and removes with create/replace flags and limits', async (t) => {
      const s = await open(t)
      const f = await s.create(ROOT_INO, 'f', FILE)
      const value = new Uint8Array(65536).map((_, i) => i % 251)
      await s.setxattr(f.ino, 'user.big', value)
      assert.deepEqual(await s.getxattr(f.ino, 'user.big'), value)
      await s.setxattr(f.ino, 'user.a', new Uint8Array([0, 255, 0]), { create: true })
      await rejects(s.setxattr(f.ino, 'user.a', new Uint8Array([1]), { create: true }), 'ExistsError')
      await rejects(s.setxattr(f.ino, 'user.none', new Uint8Array([1]), { replace: true }), 'NoDataError')
      await s.setxattr(f.ino, 'user.a', new Uint8Array([9]), { replace: true })
      assert.deepEqual(await s.getxattr(f.ino, 'user.a'), new Uint8Array([9]))
      await s.setxattr(f.ino, 'user.empty', new Uint8Array(0))
      assert.deepEqual(await s.getxattr(f.ino, 'user.empty'), new Uint8Array(0))
      assert.deepEqual(await s.listxattr(f.ino), ['user.a', 'user.big', 'user.empty'])
      await rejects(s.setxattr(f.ino, 'user.' + 'n'.repeat(251), new Uint8Array(1)), 'RangeTooSmallError')
      await rejects(s.setxattr(f.ino, 'user.huge', new Uint8Array(65537)), 'ValueTooBigError')
      await s.removexattr(f.ino, 'user.a')
      assert.equal(await s.getxattr(f.ino, 'user.a'), undefined)
      await rejects(s.removexattr(f.ino, 'user.a'), 'NoDataError')
      await rejects(s.getxattr(987654, 'user.a'), 'NotFoundError')
      const before = (await s.getattr(f.ino)).ctimeNs
      await s.setxattr(f.ino, 'user.t', new Uint8Array([1]))
      assert.ok((await s.getattr(f.ino)).ctimeNs >= before)
    })
  })

  describe('readdir', () => {
    it('pages with stable cookies while entries come and go', async (t) => {
      const s = await open(t)
      const d = await s.create(ROOT_INO, 'd', DIR)
      for (let i = 0; i < 100; i++) await s.create(d.ino, `e${i}`, FILE)
      const seen: string[] = []
      let cookie = 0
      for (let round = 0; ; round++) {
        const page = await s.readdir(d.ino, cookie, 7)
        if (page.length === 0) break
        for (const e of page) { assert.ok(e.cookie > cookie); seen.push(e.name) }
        cookie = page[page.length - 1].cookie
        // Between pages: remove an entry not yet seen, rename one, add new ones.
        const victim = `e${99 - round}`
        if (round < 50 && !seen.includes(victim)) await s.unlink(d.ino, victim)
        if (round < 20) await s.create(d.ino, `new${round}`, FILE)
        if (round === 3) await s.rename(d.ino, 'e0', d.ino, 'renamed0')
      }
      assert.equal(new Set(seen).size, seen.length, 'no entry is repeated')
      const survivors = (await dumpTree(s, d.ino)).map(l => l.split(' ')[0].slice(1)).filter(n => /^e\d+$/.test(n))
      for (const name of survivors) assert.ok(seen.includes(name), `surviving entry ${name} was not skipped`)
    })
  })

  describe('concurrency', () => {
    it('lets exactly one of many concurrent creates of one name win', async (t) => {
      const s = await open(t)
      const results = await Promise.allSettled(Array.from({ length: 64 }, async () => await s.create(ROOT_INO, 'same', FILE)))
      assert.equal(results.filter(r => r.status === 'fulfilled').length, 1)
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as Error).name, 'ExistsError')
      assert.equal(s.stats().files, 1)
    })

    it('never makes a cycle from concurrent crossing renames', async (t) => {
      const s = await open(t)
      const a = await s.create(ROOT_INO, 'a', DIR)
      const b = await s.create(ROOT_INO, 'b', DIR)
      const results = await Promise.allSettled([s.rename(ROOT_INO, 'a', b.ino, 'a'), s.rename(ROOT_INO, 'b', a.ino, 'b')])
      assert.equal(results.filter(r => r.status === 'fulfilled').length, 1)
      const check = await s.check()
      assert.deepEqual(check.problems, [])
    })

    it('keeps a consistent tree under a mixed concurrent workload', async (t) => {
      const s = await open(t)
      const dirs = await Promise.all(Array.from({ length: 4 }, async (_, i) => await s.create(ROOT_INO, `d${i}`, DIR)))
      await Promise.all(Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; i < 40; i++) {
          const d = dirs[(w + i) % 4]
          const f = await s.create(d.ino, `w${w}-${i}`, FILE)
          await s.setContent(f.ino, { size: 8, stripeSize: 8, stripes: [stripe(0, 8, `w${w}-${i}`)] })
          if (i % 3 === 0) await s.rename(d.ino, `w${w}-${i}`, dirs[(w + i + 1) % 4].ino, `m${w}-${i}`)
          if (i % 5 === 0) { await s.unlink(d.ino, `w${w}-${i}`).catch(() => {}); await s.releaseInode(f.ino) }
        }
      }))
      await Promise.all([s.sync(), s.sync(), s.sync()])
      const check = await s.check()
      assert.deepEqual(check.problems, [])
      assert.equal(s.stats().ops, check.ops)
    })

    it('fails a cancelled call without applying it', async (t) => {
      const s = await open(t)
      const ac = new AbortController()
      ac.abort()
      await rejects(s.create(ROOT_INO, 'never', FILE, { signal: ac.signal }), 'AbortedError')
      assert.equal(await s.lookup(ROOT_INO, 'never'), undefined)
    })
  })

  describe('the op log', () => {
    it('replays on another device into the same tree, and refuses forged or untrusted ops', async (t) => {
      const signer = testSigner()
      const a = await open(t, { deviceId: 'dev-a', ...signer })
      await workload(a)
      const b = await open(t, { deviceId: 'dev-b' })
      const sealed = []
      for await (const op of a.exportOps()) sealed.push(op)
      assert.equal(sealed.length, a.stats().ops)
      // Only the last op of each committed batch is signed (its seal); applied one by one here,
      // each op is signed alone, as ops logged before seals were (such an op verifies alone).
      const ops = sealed.map(op => op.sig != null ? op : { ...op, sig: signer.sign(Buffer.from(op.body)) })
      await rejects(b.applyOp(ops[0]), 'PermissionError')
      await b.trustAuthor('dev-a', signer.publicKey)
      const forged = { ...ops[0], body: ops[0].body.replace('"d"', '"e"') }
      await rejects(b.applyOp(forged), 'IntegrityError')
      await rejects(b.applyOp(ops[1]), 'InvalidArgumentError')
      await rejects(b.applyOp({ ...ops[0], body: '{"v":1,"kind":' }), 'ProtocolError')
      // The op applied is the one decoded from the signed bytes, never the parsed copy beside them.
      await b.applyOp({ ...ops[0], op: { ...ops[0].op, author: 'dev-c', name: 'not-signed' } as typeof ops[0]['op'] })
      assert.equal(await b.lookup(ROOT_INO, 'not-signed'), undefined)
      const c = await open(t, { deviceId: 'dev-c' })
      await c.trustAuthor('dev-a', signer.publicKey)
      await c.create(ROOT_INO, 'local-and-newer', FILE)
      // Older than c's own op: applied by undo-redo.
      for (const op of ops) await c.applyOp(op)
      assert.deepEqual((await dumpTree(c)).filter(l => !l.includes('local-and-newer')), await dumpTree(a))
      assert.ok(await c.lookup(ROOT_INO, 'local-and-newer'))
      assert.deepEqual((await c.check()).problems, [])
      // As replication sends them: the runs of unsigned ops verify through their seals.
      const report = await b.applyRemote(sealed.map(op => ({ body: op.body, sig: op.sig })))
      assert.deepEqual([report.refused, report.unsealed], [[], []])
      await b.applyOp(ops[3]) // applied already: a no-op
      assert.deepEqual(await dumpTree(b), await dumpTree(a))
      assert.equal(b.stats().ops, a.stats().ops)
      assert.deepEqual((await a.check()).problems, [])
      assert.deepEqual((await b.check()).problems, [])
    })
  })
}

/** A workload touching every op kind (used by replay and reopen tests). */
export async function workload (s: MetaStore): Promise<Attr> {
  const d = await s.create(ROOT_INO, 'd', DIR)
  const f = await s.create(d.ino, 'f', { ...FILE, timeNs: 123_456_789_012n })
  await s.create(d.ino, 'l', { type: 'symlink', mode: 0o777, uid: 0, gid: 0, target: '../x' })
  await s.setContent(f.ino, { size: 12, stripeSize: 8, stripes: [stripe(0, 8), stripe(1, 4)] })
  await s.link(f.ino, ROOT_INO, 'hard')
  await s.setattr(f.ino, { mode: 0o600, mtimeNs: -5n })
  await s.setxattr(f.ino, 'user.x', new Uint8Array([1, 2, 3]))
  await s.setxattr(f.ino, 'user.y', new Uint8Array([4]))
  await s.removexattr(f.ino, 'user.y')
  const e = await s.create(ROOT_INO, 'e', DIR)
  await s.rename(d.ino, 'f', e.ino, 'moved')
  const g = await s.create(e.ino, 'g', FILE)
  await s.rename(e.ino, 'g', e.ino, 'moved')
  await s.releaseInode(f.ino).catch(() => {})
  await s.unlink(ROOT_INO, 'hard')
  await s.releaseInode(f.ino)
  const tmp = await s.create(ROOT_INO, 'tmp', DIR)
  await s.rmdir(ROOT_INO, 'tmp')
  void tmp
  await s.rename(ROOT_INO, 'd', e.ino, 'd', { noReplace: true })
  await s.setattr(g.ino, { size: 3 })
  return g
}
