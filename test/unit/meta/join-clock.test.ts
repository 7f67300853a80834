/**
 * A device that joins a swarm whose clock runs ahead of its own (a member's clock an hour fast, or
 * its own clock slow): the members have compacted the undo records of ops older than their stable
 * point, so ops stamped by the joiner's own clock land before that point and are refused for good
 * ("older than op N whose undo record is gone"), and with them every later op of the joiner (a gap).
 * `palm join` therefore starts the joiner's clock at the inviter's (`clockFloor`, read after the
 * inviter's admit op). Real SQLite journals, real Ed25519 signatures.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { it, type TestContext } from 'node:test'
import { createMetaStore, type MetaStoreInit } from '../../../src/meta/index.js'
import { ROOT_INO, type MetaStore, type SignedOp } from '../../../src/meta/types.js'
import { testSigner } from '../../compliance/meta-store-tests.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'

const FILE = { type: 'file', mode: 0o644, uid: 0, gid: 0 } as const
const HOUR_NS = 3_600_000_000_000n
const now = (): bigint => BigInt(Date.now()) * 1_000_000n

async function device (t: TestContext, dir: string, id: string, extra: Partial<MetaStoreInit> = {}): Promise<{ meta: MetaStore, publicKey: Uint8Array }> {
  const signer = testSigner()
  const meta = createMetaStore({ path: join(dir, `${id}.db`), deviceId: id, ...signer, ...extra })
  onCleanup(t, async () => { await meta.stop() })
  await meta.start()
  return { meta, publicKey: signer.publicKey }
}

async function opsOf (meta: MetaStore, author: string, after = 0): Promise<SignedOp[]> {
  const out: SignedOp[] = []
  for await (const op of meta.exportOps()) if (op.op.author === author && op.op.seq > after) out.push(op)
  return out
}

/** A member `b` that applied ops of `ahead` (clock an hour fast) and compacted; returns b. */
async function compactedMember (t: TestContext, dir: string): Promise<MetaStore> {
  const ahead = await device(t, dir, 'dev-ahead', { clock: () => now() + HOUR_NS })
  const b = await device(t, dir, 'dev-b')
  await b.meta.trustAuthor('dev-ahead', ahead.publicKey)
  for (const name of ['x', 'y', 'z']) await ahead.meta.create(ROOT_INO, name, FILE)
  const report = await b.meta.applyRemote((await opsOf(ahead.meta, 'dev-ahead')).map(o => ({ body: o.body, sig: o.sig })))
  assert.equal(report.refused.length, 0)
  assert.ok(await b.meta.compactUndo() > 0, 'b compacted the undo records every known device has passed')
  return b.meta
}

it('a joiner whose clock starts at the inviter\'s gets its ops accepted by a member that compacted', async (t) => {
  const dir = await createTempDir(t, 'palm-join-clock-')
  const b = await compactedMember(t, dir)
  // What the invite exchange does: admit, then read the clock for the joiner.
  const plainJoiner = await device(t, dir, 'dev-joiner-plain')
  await b.trustAuthor('dev-joiner-plain', plainJoiner.publicKey)
  const joiner = await device(t, dir, 'dev-joiner', { clockFloor: b.clockReading() })
  await b.trustAuthor('dev-joiner', joiner.publicKey)

  // Without the floor (the joiner's own clock, an hour behind the swarm's): refused for good.
  await plainJoiner.meta.create(ROOT_INO, 'plain.txt', FILE)
  const plain = await b.applyRemote((await opsOf(plainJoiner.meta, 'dev-joiner-plain')).map(o => ({ body: o.body, sig: o.sig })))
  assert.equal(plain.refused.length, 1)
  assert.match(plain.refused[0].reason, /undo record is gone/)

  // With it: applied, and the joiner's later ops follow.
  await joiner.meta.create(ROOT_INO, 'joined.txt', FILE)
  await joiner.meta.create(ROOT_INO, 'later.txt', FILE)
  const ok = await b.applyRemote((await opsOf(joiner.meta, 'dev-joiner')).map(o => ({ body: o.body, sig: o.sig })))
  assert.deepEqual(ok.refused, [])
  assert.ok((await b.lookup(ROOT_INO, 'joined.txt')) != null)
  assert.ok((await b.lookup(ROOT_INO, 'later.txt')) != null)
})

it('the floor only moves the clock forward: a journal already past it keeps its own', async (t) => {
  const dir = await createTempDir(t, 'palm-join-clock-')
  const a = await device(t, dir, 'dev-a', { clockFloor: 5n })
  await a.meta.create(ROOT_INO, 'f', FILE)
  const [op] = await opsOf(a.meta, 'dev-a')
  assert.ok(op.op.hlc > now() - HOUR_NS, 'a floor in the past changes nothing')
  const floor = now() + 2n * HOUR_NS
  await a.meta.stop()
  const again = createMetaStore({ path: join(dir, 'dev-a.db'), deviceId: 'dev-a', clockFloor: floor })
  onCleanup(t, async () => { await again.stop() })
  await again.start()
  assert.ok(again.clockReading() >= floor)
})

// Found on the namespace LAN: a joiner met a member (and admitted it) before the founder. The
// member had written nothing yet but held the founder's ops and the joiner's; from that member's
// vector the joiner took its own ops as past every device and compacted their undo records, then
// refused the founder's older ops for good.
it('a joiner does not compact past ops another device holds and it lacks, of an author not admitted yet', async (t) => {
  const dir = await createTempDir(t, 'palm-join-vector-')
  const founder = await device(t, dir, 'dev-founder')
  await founder.meta.create(ROOT_INO, 'old.txt', FILE)
  const member = await device(t, dir, 'dev-member')
  const joiner = await device(t, dir, 'dev-joiner')
  await joiner.meta.trustAuthor('dev-member', member.publicKey)
  await joiner.meta.create(ROOT_INO, 'mine-1.txt', FILE)
  await joiner.meta.create(ROOT_INO, 'mine-2.txt', FILE)
  // The member holds the founder's op and the joiner's two, and wrote none itself.
  const vectors = new Map([['dev-member', new Map([['dev-founder', 1], ['dev-joiner', 2]])]])
  await joiner.meta.compactUndo({ vectors })
  await joiner.meta.trustAuthor('dev-founder', founder.publicKey)
  const report = await joiner.meta.applyRemote((await opsOf(founder.meta, 'dev-founder')).map(o => ({ body: o.body, sig: o.sig })))
  assert.deepEqual(report.refused, [])
  assert.ok((await joiner.meta.lookup(ROOT_INO, 'old.txt')) != null)
})
