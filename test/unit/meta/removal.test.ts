/**
 * Removal as a signed op (issue 15): a removed device's ops are refused whatever their clock, no
 * admit op brings it back (in either order), its earlier ops still check out, and removedDevices
 * lists it.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { it } from 'node:test'
import { createMetaStore } from '../../../src/meta/index.js'
import { ROOT_INO, type MetaStore, type NodeInit } from '../../../src/meta/types.js'
import { testSigner } from '../../compliance/meta-store-tests.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'

const FILE: NodeInit = { type: 'file', mode: 0o644, uid: 0, gid: 0 }

async function exported (s: MetaStore): Promise<Array<{ body: string, sig?: Uint8Array }>> {
  const out = []
  for await (const op of s.exportOps()) out.push({ body: op.body, sig: op.sig })
  return out
}

/** `count` journals of devices dev-0, dev-1, … with their signers; stopped after the test. */
async function openStores (t: Parameters<typeof onCleanup>[0], prefix: string, count: number): Promise<{ stores: MetaStore[], signers: Array<ReturnType<typeof testSigner>> }> {
  const dir = await createTempDir(t, prefix)
  const signers = Array.from({ length: count }, () => testSigner())
  const stores = await Promise.all(signers.map(async (sg, i) => {
    const s = createMetaStore({ path: join(dir, `d${i}.db`), deviceId: `dev-${i}`, ...sg })
    await s.start()
    onCleanup(t, async () => { await s.stop() })
    return s
  }))
  return { stores, signers }
}

it('a removed device\'s ops are refused, an admit does not bring it back, and its earlier ops still verify', async (t) => {
  const { stores: [a, b, c], signers } = await openStores(t, 'palm-remove-', 3)
  await a.admit('dev-1', signers[1].publicKey)
  await a.admit('dev-2', signers[2].publicKey)
  await b.trustAuthor('dev-0', signers[0].publicKey)
  await b.applyRemote(await exported(a))
  await b.create(ROOT_INO, 'before', FILE)
  assert.deepEqual((await a.applyRemote(await exported(b))).refused, [])

  await a.removeDevice('dev-1')
  await a.removeDevice('dev-1')
  assert.deepEqual(await a.removedDevices(), ['dev-1'])
  assert.equal((await exported(a)).filter(o => o.body.includes('"removeDevice"')).length, 1, 'removing twice logs one op')

  // b writes after its removal (its clock says so or not): refused, with the reason.
  await b.create(ROOT_INO, 'after', FILE)
  const late = await a.applyRemote((await exported(b)).filter(o => o.body.includes('"after"')))
  assert.equal(late.refused.length, 1)
  assert.match(late.refused[0].reason, /removed from this swarm/)
  assert.equal(await a.lookup(ROOT_INO, 'after'), undefined)
  assert.ok(await a.lookup(ROOT_INO, 'before'), 'what it wrote before stays')

  // Another member admits b again (it had not seen the removal): b stays removed, on a and on c.
  await a.admit('dev-1', signers[1].publicKey)
  await c.trustAuthor('dev-0', signers[0].publicKey)
  const readmit = { ...(await exported(a))[0] } // a's first op admitted dev-1
  const r = await c.applyRemote([...await exported(a), readmit])
  assert.deepEqual(r.refused.filter(x => x.author !== 'dev-1'), [])
  assert.deepEqual(await c.removedDevices(), ['dev-1'])
  const fromB = await c.applyRemote(await exported(b))
  assert.ok(fromB.refused.some(x => /removed/.test(x.reason)), JSON.stringify(fromB.refused))
  assert.deepEqual((await a.check()).problems, [], 'the removed device\'s earlier ops still verify')
})

it('a re-keying is a signed keyEpoch op that names the epoch and fingerprint, replicates, and lists the members left', async (t) => {
  const { stores: [a, b], signers } = await openStores(t, 'palm-keyepoch-', 2)
  signers.push(testSigner())
  await a.admit('dev-1', signers[1].publicKey)
  await a.admit('dev-2', signers[2].publicKey)
  await a.removeDevice('dev-2')
  await a.recordKeyEpoch(1, '0123456789abcdef')
  assert.deepEqual((await a.admittedDevices()).filter(d => d !== 'dev-0'), ['dev-1'], 'a removed device is no member')
  const ops = await exported(a)
  const rekey = ops.filter(o => o.body.includes('"keyEpoch"'))
  assert.equal(rekey.length, 1)
  assert.match(rekey[0].body, /"epoch":1/)
  assert.match(rekey[0].body, /"keyId":"0123456789abcdef"/)
  await b.trustAuthor('dev-0', signers[0].publicKey)
  assert.deepEqual((await b.applyRemote(ops)).refused, [], 'another device applies the record')
  assert.ok((await exported(b)).some(o => o.body.includes('"keyEpoch"')))
  assert.deepEqual(await b.keyEpoch(), { epoch: 1, keyId: '0123456789abcdef' })
  // A concurrent re-keying to the same epoch: both devices keep the higher fingerprint, whatever the order.
  await b.recordKeyEpoch(1, 'ffffffffffffffff')
  await a.applyRemote(await exported(b))
  assert.deepEqual(await a.keyEpoch(), { epoch: 1, keyId: 'ffffffffffffffff' })
  assert.deepEqual(await b.keyEpoch(), { epoch: 1, keyId: 'ffffffffffffffff' })
  assert.deepEqual(await a.removedDevices(), ['dev-2'], 'the record is no device')
})

it('a device declares its failure domain with a signed setDomain op, once per change, and others learn it', async (t) => {
  const { stores: [a, b], signers } = await openStores(t, 'palm-domain-', 2)
  await a.setDomain('')
  await a.setDomain('house')
  await a.setDomain('house')
  assert.equal((await exported(a)).filter(o => o.body.includes('"setDomain"')).length, 1, 'no op for no change')
  await b.trustAuthor('dev-0', signers[0].publicKey)
  assert.deepEqual((await b.applyRemote(await exported(a))).refused, [])
  assert.deepEqual([...(await b.domains())], [['dev-0', 'house']])
  assert.deepEqual(await b.admittedDevices(), ['dev-0', 'dev-1'], 'a domain record is no device')
  await a.setDomain('')
  assert.deepEqual([...(await a.domains())], [])
})

it('batches applied at once: an admission or a removal in the earlier one counts for the later one, as one after the other', async (t) => {
  const { stores: [a, b, c, d], signers } = await openStores(t, 'palm-admit-order-', 4)
  await a.admit('dev-1', signers[1].publicKey)
  await b.trustAuthor('dev-0', signers[0].publicKey)
  await b.create(ROOT_INO, 'by-b', FILE)
  const fromA = await exported(a)
  // c knows only a: b's ops are taken because a's admission of b, in the batch started first, is merged first.
  await c.trustAuthor('dev-0', signers[0].publicKey)
  const [r1, r2] = await Promise.all([c.applyRemote(fromA), c.applyRemote(await exported(b))])
  assert.deepEqual([r1.refused, r2.refused], [[], []])
  assert.ok(await c.lookup(ROOT_INO, 'by-b'))
  // d has admitted b through a; a removes b, and b's next op, in the batch started after the removal, is refused.
  await d.trustAuthor('dev-0', signers[0].publicKey)
  assert.deepEqual((await d.applyRemote([...fromA, ...await exported(b)])).refused, [])
  await a.removeDevice('dev-1')
  await b.create(ROOT_INO, 'after', FILE)
  const [s1, s2] = await Promise.all([d.applyRemote((await exported(a)).slice(fromA.length)), d.applyRemote((await exported(b)).filter(o => o.body.includes('"after"')))])
  assert.deepEqual(s1.refused, [])
  assert.equal(s2.refused.length, 1)
  assert.match(s2.refused[0].reason, /removed from this swarm/)
  assert.equal(await d.lookup(ROOT_INO, 'after'), undefined)
})
