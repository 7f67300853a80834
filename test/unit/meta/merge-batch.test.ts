/**
 * Large batches of another device's ops (docs/journal.md, "Verification" and "The writer"): a merge
 * loads the records its ops read in a few statements (prefetch.ts, reads.ts `fetchKeys`), checks
 * each author's runs of ops against their seals (seal.ts) and hands the writer a chunk at a time, and a batch writes its
 * rows with one json_each statement per table. Real file journals whose cache is far smaller than
 * the tree, so that the records do come from the database.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { ABSENT } from '../../../src/meta/cache.js'
import { Db } from '../../../src/meta/db.js'
import { createMetaStore } from '../../../src/meta/index.js'
import { fetchKey, fetchKeys } from '../../../src/meta/reads.js'
import { ROOT_INO, type MetaStore, type NodeInit } from '../../../src/meta/types.js'
import { dumpTree, testSigner } from '../../compliance/meta-store-tests.js'
import { assertConverged, devices, logicalClock } from './merge-helpers.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'

const FILE: NodeInit = { type: 'file', mode: 0o644, uid: 0, gid: 0 }
const DIR: NodeInit = { type: 'dir', mode: 0o755, uid: 0, gid: 0 }

/** Two journals that trust each other; b's cache holds 64 records. */
async function pair (t: TestContext): Promise<{ a: MetaStore, b: MetaStore, dir: string }> {
  const dir = await createTempDir(t, 'palm-merge-batch-')
  const sa = testSigner()
  const sb = testSigner()
  const a = createMetaStore({ path: join(dir, 'a.db'), deviceId: 'dev-a', ...sa })
  const b = createMetaStore({ path: join(dir, 'b.db'), deviceId: 'dev-b', cacheEntries: 64, ...sb })
  for (const s of [a, b]) {
    await s.start()
    onCleanup(t, async () => { await s.stop() })
    await s.trustAuthor('dev-a', sa.publicKey)
    await s.trustAuthor('dev-b', sb.publicKey)
  }
  return { a, b, dir }
}

/** Every op `s` holds, as replication sends them. */
async function exportedOf (s: MetaStore): Promise<Array<{ body: string, sig?: Uint8Array }>> {
  const out = []
  for await (const op of s.exportOps()) out.push({ body: op.body, sig: op.sig })
  return out
}

/** a's ops with seq > after, as replication sends them (the signed bytes only). */
async function opsOf (a: MetaStore, after = 0): Promise<Array<{ body: string, sig?: Uint8Array }>> {
  const out = []
  for await (const op of a.exportOps()) if (op.op.author === 'dev-a' && op.op.seq > after) out.push({ body: op.body, sig: op.sig })
  return out
}

describe('large merges', () => {
  it('applies batches of creates, renames, links and unlinks over a tree its cache cannot hold', async (t) => {
    const { a, b } = await pair(t)
    const dirs = []
    for (let i = 0; i < 8; i++) dirs.push(await a.create(ROOT_INO, `d${i}`, DIR))
    for (let i = 0; i < 600; i++) await a.create(dirs[i % 8].ino, `f${i}`, FILE)
    const first = await opsOf(a)
    let report = await b.applyRemote(first)
    assert.deepEqual(report.refused, [])
    assert.equal(report.applied, 608)
    // Ops that read entries and nodes b has only on disk now: moves across directories, links, unlinks.
    for (let i = 0; i < 600; i += 3) await a.rename(dirs[i % 8].ino, `f${i}`, dirs[(i + 1) % 8].ino, `moved-${i}`)
    for (let i = 1; i < 600; i += 3) await a.link((await a.lookup(dirs[i % 8].ino, `f${i}`))!.ino, dirs[(i + 3) % 8].ino, `link-${i}`)
    for (let i = 2; i < 600; i += 6) await a.unlink(dirs[i % 8].ino, `f${i}`)
    report = await b.applyRemote(await opsOf(a, first.length))
    assert.deepEqual(report.refused, [])
    assert.equal(report.skipped + report.renamed, 0)
    assert.deepEqual(await dumpTree(b), await dumpTree(a))
    // The unlinked files are orphans on both until a release (the VFS sends it when no handle is open).
    const kinds = async (s: MetaStore): Promise<string[]> => (await s.check()).problems.map(p => p.kind)
    assert.deepEqual(await kinds(b), await kinds(a))
    assert.deepEqual(new Set(await kinds(b)), new Set(['orphan']))
  })

  it('applies the runs sealed before a bad seal in a later chunk, refuses it and the ops it seals, the ones after as a gap, then takes them sent again', async (t) => {
    const { a, b } = await pair(t)
    // Seven committed batches or more: each ends on a seal (a signed op), the ops before it unsigned.
    for (let g = 0; g < 7; g++) await Promise.all(Array.from({ length: 100 }, async (_, i) => await a.create(ROOT_INO, `f${g * 100 + i}`, FILE)))
    const ops = await opsOf(a)
    const seals = ops.flatMap((o, i) => o.sig != null ? [i] : [])
    const bad = seals.find(i => i >= 500) as number
    const before = seals.filter(i => i < bad).pop() as number
    assert.ok(bad - before > 1, 'the bad seal seals unsigned ops')
    const forged = ops.map((o, i) => i === bad ? { ...o, sig: new Uint8Array(o.sig ?? []).map((x, j) => j === 0 ? x ^ 1 : x) } : o)
    const report = await b.applyRemote(forged)
    assert.equal(report.applied, before + 1)
    assert.deepEqual(report.refused[0], { author: 'dev-a', seq: bad + 1, reason: 'bad signature: the op was damaged or forged' })
    assert.equal(report.refused.length, 700 - before - 1)
    assert.ok(report.refused.slice(1, bad - before).every(r => r.reason.startsWith('bad signature: its seal')), 'the ops it seals are refused with it')
    assert.ok(report.refused.slice(bad - before).every(r => r.reason.startsWith('gap')), 'the ops after it wait for it')
    const again = await b.applyRemote(ops)
    assert.deepEqual(again.refused, [])
    assert.equal(again.applied, 700 - before - 1)
    assert.equal(again.duplicates, before + 1)
    assert.deepEqual(await dumpTree(b), await dumpTree(a))
  })

  it('fetchKeys reads inodes, entries and node ids (aliases too) as fetchKey does, absent ones as ABSENT', async (t) => {
    const { a, b, dir } = await pair(t)
    const x = await a.create(ROOT_INO, 'x', DIR)
    const f = await a.create(x.ino, "it's ü", FILE)
    // Two mkdirs of one name: b's "m" takes a's node id as an alias.
    await b.create(ROOT_INO, 'm', DIR)
    await a.create(ROOT_INO, 'm', DIR)
    assert.deepEqual((await b.applyRemote(await opsOf(a))).refused, [])
    await b.sync()
    const db = await Db.open(join(dir, 'b.db'), true)
    onCleanup(t, async () => { await db.close() })
    const nodes = (await db.all<{ node: string }>('SELECT node FROM inodes')).map(r => r.node)
    const aliases = (await db.all<{ node: string }>('SELECT node FROM node_aliases')).map(r => r.node)
    assert.equal(aliases.length, 1)
    const inos = (await db.all<{ ino: number }>('SELECT ino FROM inodes')).map(r => r.ino)
    const entries = await db.all<{ parent: number, name: string }>('SELECT parent, name FROM dentries')
    const keys = [
      ...inos.map(i => `i${i}`), 'i999999',
      ...entries.map(e => `d${e.parent}/${e.name}`), `d${ROOT_INO}/nothing`, `d${f.ino}/x`,
      ...[...nodes, ...aliases].map(n => `n${n}`), 'nno-such-node',
      `x${f.ino}/user.k`
    ]
    const many = await fetchKeys(db, keys)
    assert.equal(many.has(`x${f.ino}/user.k`), false, 'kinds it does not read are left out')
    assert.equal(many.size, keys.length - 1)
    for (const [k, v] of many) assert.deepEqual(v, await fetchKey(db, k), k)
    assert.equal(many.get('i999999'), ABSENT)
    assert.equal(many.get('nno-such-node'), ABSENT)
    assert.equal(typeof many.get(`n${aliases[0]}`), 'number', 'an alias names the inode it was merged into')
  })

  it('redoes a newer local op after every chunk of a late batch from memory, and converges with a device that took the ops in order', async (t) => {
    const clock = logicalClock()
    const [a, b, c, r] = await devices(t, 4, clock)
    // Stamped in this order: c's op is the oldest, b's own op the newest.
    await c.create(ROOT_INO, 'oldest', FILE)
    const d = await a.create(ROOT_INO, 'd', DIR)
    for (let i = 0; i < 2500; i += 250) await Promise.all(Array.from({ length: 250 }, async (_, j) => await a.create(d.ino, `f${i + j}`, FILE)))
    await b.create(ROOT_INO, 'newest', FILE)
    // Three chunks older than b's op: the first reads it back, the next ones take it from the merge before.
    const fromA = await exportedOf(a)
    assert.deepEqual((await b.applyRemote(fromA)).refused, [])
    // The oldest op last: every op is undone with the undo records stored so far, and redone.
    assert.deepEqual((await b.applyRemote(await exportedOf(c))).refused, [])
    for (const s of [c, a, b]) assert.deepEqual((await r.applyRemote(await exportedOf(s))).refused, [])
    const tree = await assertConverged([b, r])
    assert.equal(tree.length, 2503)
  })
})
