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
import { createMetaStore, encodeOp, ROOT_INO, type Op, type SqliteMetaStore } from '../../../src/meta/index.js'
import { loadOrCreatePeerKey, type WireOp } from '../../../src/net/index.js'
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
  it('keeps the version vector, pages ops out by author and feeds committed local ops, signed', async (t) => {
    const a = await device(t, 'a')
    const fed: WireOp[] = []
    const off = a.replica.onLocalOps(ops => { fed.push(...ops) })
    for (let i = 0; i < 30; i++) await a.meta.create(ROOT_INO, `f${i}`, FILE)
    await a.meta.stop() // flushes every commit
    off()
    assert.deepEqual(fed.map(o => o.seq), Array.from({ length: 30 }, (_, i) => i + 1))
    assert.ok(fed.every(o => o.author === a.id && o.sig.byteLength === 64))
    assert.equal(a.replica.versionVector().get(a.id), 30)
  })

  it('reads ops after a seq in bounded pages (count and bytes) from the log', async (t) => {
    const a = await device(t, 'a')
    for (let i = 0; i < 1500; i += 100) await Promise.all(Array.from({ length: 100 }, async (_, j) => await a.meta.create(ROOT_INO, `f${i + j}`, FILE)))
    assert.deepEqual((await a.meta.versionVector()).get(a.id), 1500)
    const page = await a.replica.readOps(a.id, 10, 1200, 1 << 30)
    assert.equal(page.length, 1200)
    assert.deepEqual([page[0].seq, page[1199].seq], [11, 1210])
    const small = await a.replica.readOps(a.id, 0, 1000, 1000)
    assert.ok(small.length >= 1 && small.length < 10, `${small.length} ops in about 1000 bytes`)
    assert.deepEqual(await a.replica.readOps(a.id, 1500, 10, 1000), [])
  })

  it('applies another device\'s ops and refuses forged, mismatched, unknown, gapped and own ops with reasons', async (t) => {
    const a = await device(t, 'a')
    const b = await device(t, 'b')
    for (let i = 0; i < 20; i++) await a.meta.create(ROOT_INO, `f${i}`, FILE)
    const ops = await a.replica.readOps(a.id, 0, 20, 1 << 30)
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
    assert.deepEqual(r.refused.map(x => x.reason.split(':')[0]), ['gap', 'forged', 'own op this device lacks'])
    // The good ops of a mixed batch still apply.
    r = await b.replica.applyOps([ops[10], { ...ops[11], body: '{' }, ops[11]], a.id)
    assert.equal(r.applied, 2)
    assert.equal(r.refused.length, 1)
    r = await b.replica.applyOps(ops.slice(12), a.id)
    assert.equal(r.applied, 8)
    assert.equal(b.replica.versionVector().get(a.id), 20)
    const names = (await b.meta.readdir(ROOT_INO, 0, 100)).map(e => e.name).sort()
    assert.deepEqual(names, Array.from({ length: 20 }, (_, i) => `f${i}`).sort())
    assert.equal((await b.meta.check()).ok, true)
  })
})
