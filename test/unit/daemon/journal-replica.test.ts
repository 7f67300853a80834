/**
 * The journal's replication hooks (versionVector, readOps, onOps, applyOps) and the daemon's
 * MetaReplica over them, on real file-backed SQLite journals signed with real device keys: what
 * arrives is checked op by op, bad ops are refused with a reason and never stop the good ones.
 */
import '../../../src/util/polyfill.js'
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign as edSign } from 'node:crypto'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MetaReplica } from '../../../src/daemon/journal-replica.js'
import { admitDevice } from '../../../src/daemon/admission.js'
import { opSigner } from '../../../src/daemon/signer.js'
import { createMetaStore, encodeOp, ROOT_INO, SEAL_MAX_OPS, type Op, type SqliteMetaStore } from '../../../src/meta/index.js'
import { JOURNAL_SEAL_SPACING_OPS, loadOrCreatePeerKey, type WireOp } from '../../../src/net/index.js'
import { defaultLogger } from '../../../src/util/logger.js'
import { createTempDir, onCleanup, type Cleanup } from '../../helpers/tmp.js'

interface Dev { id: string, meta: SqliteMetaStore, replica: MetaReplica }

async function device (t: Cleanup, name: string): Promise<Dev> {
  const dir = await createTempDir(t, `palm-replica-${name}-`)
  const key = await loadOrCreatePeerKey(join(dir, 'device.key'))
  const id = peerIdFromPrivateKey(key).toString()
  const signer = opSigner(key)
  const meta = createMetaStore({ path: join(dir, 'journal.db'), deviceId: id, sign: signer.sign, signAsync: signer.signAsync, publicKey: signer.publicKey })
  await meta.start()
  onCleanup(t, async () => { await meta.stop() })
  // As the daemon does: a peer sending its own ops is admitted first (it proved the swarm key).
  const replica = new MetaReplica(meta, { deviceId: id, admit: async (peer) => await admitDevice(meta, peer) }, defaultLogger().forComponent('palm:test'))
  await replica.start()
  onCleanup(t, () => { replica.stop() })
  return { id, meta, replica }
}

const FILE = { type: 'file' as const, mode: 0o644, uid: 0, gid: 0 }

describe('journal replication hooks and MetaReplica', () => {
  it('keeps the version vector, pages ops out by author and feeds committed local ops, each batch ending on its seal', async (t) => {
    const a = await device(t, 'a')
    const batches: WireOp[][] = []
    const off = a.replica.onLocalOps(ops => { batches.push(ops) })
    for (let i = 0; i < 30; i++) await a.meta.create(ROOT_INO, `f${i}`, FILE)
    await a.meta.stop() // flushes every commit
    off()
    const fed = batches.flat()
    assert.deepEqual(fed.map(o => o.seq), Array.from({ length: 30 }, (_, i) => i + 1))
    assert.ok(fed.every(o => o.author === a.id && (o.sig.byteLength === 64 || o.sig.byteLength === 0)))
    assert.ok(batches.every(b => b[b.length - 1].sig.byteLength === 64), 'each batch ends on a seal')
    assert.equal(a.replica.versionVector().get(a.id), 30)
  })

  it('reads ops after a seq in bounded pages (count and bytes) from the log', async (t) => {
    const a = await device(t, 'a')
    for (let i = 0; i < 1500; i += 100) await Promise.all(Array.from({ length: 100 }, async (_, j) => await a.meta.create(ROOT_INO, `f${i + j}`, FILE)))
    assert.deepEqual((await a.meta.versionVector()).get(a.id), 1500)
    // Each page ends on a seal: cut back to the last one within the limits (seals are at most
    // SEAL_MAX_OPS apart), or past them to the first one.
    const page = await a.replica.readOps(a.id, 10, 1200, 1 << 30)
    assert.ok(page.length > 1200 - SEAL_MAX_OPS && page.length <= 1200, `${page.length} ops`)
    assert.equal(page[0].seq, 11)
    assert.equal(page[page.length - 1].sig.byteLength, 64)
    const small = await a.replica.readOps(a.id, 0, 1000, 1000)
    assert.ok(small.length >= 1 && small.length <= SEAL_MAX_OPS, `${small.length} ops in about 1000 bytes, to the first seal`)
    assert.equal(small[small.length - 1].sig.byteLength, 64)
    assert.ok(small.slice(0, -1).every(o => o.sig.byteLength === 0))
    assert.deepEqual(await a.replica.readOps(a.id, 1500, 10, 1000), [])
  })

  it('applies another device\'s ops and refuses forged, mismatched, unknown, gapped and own ops with reasons', async (t) => {
    const a = await device(t, 'a')
    const b = await device(t, 'b')
    // Each op committed alone: each is a seal (signed), and verifies alone.
    for (let i = 0; i < 20; i++) { await a.meta.create(ROOT_INO, `f${i}`, FILE); await a.meta.versionVector() }
    const ops = await a.replica.readOps(a.id, 0, 20, 1 << 30)
    assert.ok(ops.length === 20 && ops.every(o => o.sig.byteLength === 64))
    const other = generateKeyPairSync('ed25519').privateKey
    const forgedSig: WireOp = { ...ops[10], sig: new Uint8Array(edSign(null, Buffer.from(ops[10].body), other)) }
    const renamed: WireOp = { ...ops[10], body: ops[10].body.replace('"f10"', '"evil"') }
    const op: Op = { v: 1, hlc: 1n, author: b.id, seq: 1, time: 1n, kind: 'create', parent: 'root', name: 'x', type: 'file', mode: 0o644, uid: 0, gid: 0, rdev: 0 }
    const mismatched: WireOp = { ...ops[10], body: encodeOp({ ...op, author: a.id, seq: 99 }) }

    let r = await b.replica.applyOps(ops.slice(0, 10), a.id)
    assert.deepEqual(r, { applied: 10, duplicates: 0, refused: [] })
    for (const bad of [forgedSig, renamed, mismatched]) {
      r = await b.replica.applyOps([bad], a.id)
      assert.equal(r.applied, 0)
      assert.match(r.refused[0]?.reason ?? '', /^forged: /)
    }
    r = await b.replica.applyOps([ops[5], ops[12], { ...ops[0], author: 'not-a-device' }, { ...ops[0], author: b.id, seq: 99 }], a.id)
    assert.equal(r.applied, 0)
    assert.equal(r.duplicates, 1)
    // The wire's author differs from the one the signed body names: forged.
    assert.deepEqual(r.refused.map(x => x.reason.split(':')[0]).sort(), ['forged', 'gap', 'own op this device lacks'])
    // The good ops of a mixed batch still apply.
    r = await b.replica.applyOps([ops[10], { ...ops[11], body: '{' }], a.id)
    assert.equal(r.applied, 1)
    assert.match(r.refused[0]?.reason ?? '', /^malformed/)
    r = await b.replica.applyOps(ops.slice(11), a.id)
    assert.equal(r.applied, 9)
    assert.equal(b.replica.versionVector().get(a.id), 20)
    const names = (await b.meta.readdir(ROOT_INO, 0, 100)).map(e => e.name).sort()
    assert.deepEqual(names, Array.from({ length: 20 }, (_, i) => `f${i}`).sort())
    assert.equal((await b.meta.check()).ok, true)
  })

  it('serves runs that end on seals, and applies a run cut before its seal only once the seal arrives', async (t) => {
    assert.ok(SEAL_MAX_OPS <= JOURNAL_SEAL_SPACING_OPS, 'receivers allow for the runs writers make')
    const a = await device(t, 'a')
    const b = await device(t, 'b')
    await a.meta.create(ROOT_INO, 'first', FILE)
    await a.meta.versionVector() // committed: a batch of its own
    await Promise.all(Array.from({ length: 40 }, async (_, i) => await a.meta.create(ROOT_INO, `f${i}`, FILE)))
    const all = await a.replica.readOps(a.id, 0, 1000, 1 << 30)
    assert.equal(all.length, 41)
    assert.deepEqual(all.map(o => o.sig.byteLength > 0), all.map((_, i) => i === 0 || i === 40), 'one seal per committed batch')
    // A limit inside the run: cut back to the seal before it, or past it to the run's seal.
    assert.deepEqual((await a.replica.readOps(a.id, 0, 10, 1 << 30)).map(o => o.seq), [1])
    assert.equal((await a.replica.readOps(a.id, 1, 10, 1 << 30)).length, 40)
    // Ops 2…21 without their seal (op 41): neither applied nor refused, and not in the vector.
    let r = await b.replica.applyOps(all.slice(0, 21), a.id)
    assert.deepEqual(r, { applied: 1, duplicates: 0, refused: [] })
    assert.equal(b.replica.versionVector().get(a.id), 1)
    assert.equal(await b.meta.lookup(ROOT_INO, 'f0'), undefined)
    // B serves only what it can seal: op 1, not the unsealed ops it does not hold anyway.
    assert.deepEqual((await b.replica.readOps(a.id, 0, 100, 1 << 30)).map(o => o.seq), [1])
    r = await b.replica.applyOps(all.slice(1), a.id)
    assert.deepEqual(r, { applied: 40, duplicates: 0, refused: [] })
    assert.equal(b.replica.versionVector().get(a.id), 41)
    // A third device gets A's ops from B (a relay), sealed as A sealed them.
    const relayed = await b.replica.readOps(a.id, 0, 100, 1 << 30)
    assert.deepEqual(relayed.map(o => [o.seq, o.sig.byteLength]), all.map(o => [o.seq, o.sig.byteLength]))
    assert.equal((await b.meta.check()).ok, true)
  })

  it('applies a batch while the one before it is still applied, in order, and pulls again from the vector when the earlier one falls short', async (t) => {
    const a = await device(t, 'a')
    for (let i = 0; i < 20; i++) { await a.meta.create(ROOT_INO, `f${i}`, FILE); await a.meta.versionVector() }
    const ops = await a.replica.readOps(a.id, 0, 20, 1 << 30)
    assert.ok(ops.length === 20 && ops.every(o => o.sig.byteLength === 64))
    // Started before the first settles (as journal-sync applies pulled batches): its ops count as held.
    const b = await device(t, 'b')
    const [r1, r2, r3] = await Promise.all([b.replica.applyOps(ops.slice(0, 10), a.id), b.replica.applyOps(ops.slice(10, 15), a.id), b.replica.applyOps(ops.slice(12, 20), a.id)])
    assert.deepEqual([r1, r2, r3], [{ applied: 10, duplicates: 0, refused: [] }, { applied: 5, duplicates: 0, refused: [] }, { applied: 5, duplicates: 3, refused: [] }])
    assert.equal(b.replica.versionVector().get(a.id), 20)
    assert.equal((await b.meta.readdir(ROOT_INO, 0, 100)).length, 20)
    // The first batch falls short (a forged op): the second, checked against it, is refused as a gap, and nothing past the forged op counts.
    const c = await device(t, 'c')
    const other = generateKeyPairSync('ed25519').privateKey
    const forged = ops.map((o, i) => i === 5 ? { ...o, sig: new Uint8Array(edSign(null, Buffer.from(o.body), other)) } : o)
    const [s1, s2] = await Promise.all([c.replica.applyOps(forged.slice(0, 10), a.id), c.replica.applyOps(forged.slice(10), a.id)])
    assert.equal(s1.applied, 5)
    assert.ok(s1.refused[0].seq === 6 && s1.refused[0].reason.startsWith('forged'), s1.refused[0]?.reason)
    assert.deepEqual(s2.applied, 0)
    assert.ok(s2.refused.length === 10 && s2.refused.every(r => r.reason === 'gap'))
    assert.equal(c.replica.versionVector().get(a.id), 5)
    // Pulled again from the vector: everything applies.
    assert.deepEqual(await c.replica.applyOps(ops.slice(5), a.id), { applied: 15, duplicates: 0, refused: [] })
    assert.equal((await c.meta.check()).ok, true)
  })
})
