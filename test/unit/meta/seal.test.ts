/**
 * Seals (meta/seal.ts, docs/journal.md "Op format"): every op names its author's previous op's
 * hash (`prev`), and the writer signs only the last op of each committed batch. Real file journals:
 * A writes, B trusts A's key and applies A's ops as replication sends them (applyRemote).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { Db } from '../../../src/meta/db.js'
import { bodyHash, createMetaStore, encodeOp, rebuildJournal } from '../../../src/meta/index.js'
import { ROOT_INO, type MetaStore, type NodeInit } from '../../../src/meta/types.js'
import { dumpTree, testSigner } from '../../compliance/meta-store-tests.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'

const FILE: NodeInit = { type: 'file', mode: 0o644, uid: 0, gid: 0 }

async function pair (t: TestContext): Promise<{ a: MetaStore, b: MetaStore, dir: string, signer: ReturnType<typeof testSigner> }> {
  const dir = await createTempDir(t, 'palm-seal-')
  const signer = testSigner()
  const a = createMetaStore({ path: join(dir, 'a.db'), deviceId: 'dev-a', ...signer })
  const b = createMetaStore({ path: join(dir, 'b.db'), deviceId: 'dev-b', ...testSigner() })
  for (const s of [a, b]) {
    await s.start()
    onCleanup(t, async () => { await s.stop() })
  }
  await b.trustAuthor('dev-a', signer.publicKey)
  return { a, b, dir, signer }
}

/** A's ops as replication sends them (the signed text and the signature, if any). */
async function opsOf (a: MetaStore): Promise<Array<{ body: string, sig?: Uint8Array }>> {
  const out = []
  for await (const op of a.exportOps()) out.push(op.sig == null ? { body: op.body } : { body: op.body, sig: op.sig })
  return out
}

/** `n` creates in the root in one call burst: one committed batch, so one seal at its end. */
async function burst (a: MetaStore, n: number, tag: string): Promise<void> {
  await Promise.all(Array.from({ length: n }, async (_, i) => await a.create(ROOT_INO, `${tag}${i}`, FILE)))
}

describe('seals: one signature per committed batch', () => {
  it('writes a chain of unsigned ops sealed by one signature, which applies as a whole', async (t) => {
    const { a, b } = await pair(t)
    await a.create(ROOT_INO, 'first', FILE)
    await a.versionVector() // waits for the commit: a batch of its own
    await burst(a, 40, 'f')
    const ops = await opsOf(a)
    assert.equal(ops.length, 41)
    // Only the last op of each committed batch is signed (the burst is one batch, or a few if a
    // commit started while it was prepared).
    const seals = seals_(ops)
    assert.ok(seals.includes(0) && seals.includes(40) && seals.length <= 4, `seals at ${seals.join(', ')}`)
    assert.equal(JSON.parse(ops[0].body).prev, undefined, 'the first op has no predecessor')
    for (let i = 1; i < ops.length; i++) assert.equal(JSON.parse(ops[i].body).prev, bodyHash(ops[i - 1].body))
    const report = await b.applyRemote(ops)
    assert.deepEqual([report.refused, report.unsealed, report.applied], [[], [], 41])
    assert.deepEqual(await dumpTree(b), await dumpTree(a))
  })

  it('refuses an op whose text was changed and the ops before it in its run; takes them sent again', async (t) => {
    const { a, b } = await pair(t)
    await a.create(ROOT_INO, 'first', FILE)
    await a.versionVector() // waits for the commit: a batch of its own, sealed alone
    await burst(a, 30, 'f')
    const ops = await opsOf(a)
    // Op 11 (f9) renamed in transit: op 12 names the hash of the original text.
    assert.ok(ops[10].sig == null && ops[30].sig != null)
    const tampered = ops.map((o, i) => i === 10 ? { body: o.body.replace('"name":"f9"', '"name":"evil"') } : o)
    assert.notEqual(tampered[10].body, ops[10].body)
    const report = await b.applyRemote(tampered)
    // The ops up to the seal before op 11 apply (op 1 at least: it was committed alone).
    const before = seals_(ops).filter(i => i < 10).pop() as number
    assert.equal(report.applied, before + 1)
    const refused = new Map(report.refused.map(r => [r.seq, r.reason]))
    assert.match(refused.get(11) ?? '', /^bad signature: its text is not the one op 12/)
    for (let seq = before + 2; seq <= 10; seq++) assert.match(refused.get(seq) ?? '', /^bad signature: sealed only through op 11/, `op ${seq}`)
    for (let seq = 12; seq <= 31; seq++) assert.match(refused.get(seq) ?? '', /^gap/, `op ${seq} waits for op 11`)
    assert.equal(await b.lookup(ROOT_INO, 'f8'), undefined, 'the op before the changed one is not applied')
    assert.equal(await b.lookup(ROOT_INO, 'evil'), undefined)
    assert.ok(await b.lookup(ROOT_INO, 'first'))
    const again = await b.applyRemote(ops)
    assert.deepEqual(again.refused, [])
    assert.equal(again.applied, 30)
    assert.deepEqual(await dumpTree(b), await dumpTree(a))
  })

  it('applies nothing of a run cut before its seal, and all of it when the rest arrives', async (t) => {
    const { a, b } = await pair(t)
    await a.create(ROOT_INO, 'first', FILE)
    await a.versionVector()
    await burst(a, 20, 'f')
    const ops = await opsOf(a)
    assert.ok(ops[11].sig == null, 'op 12 is not a seal')
    const before = seals_(ops).filter(i => i < 11).pop() as number
    const report = await b.applyRemote(ops.slice(0, 12))
    assert.deepEqual(report.refused, [], 'a cut run is not forged')
    assert.equal(report.applied, before + 1)
    assert.deepEqual(report.unsealed.map(u => u.seq), Array.from({ length: 11 - before }, (_, i) => before + 2 + i))
    assert.equal((await dumpTree(b)).length, before + 1)
    const rest = await b.applyRemote(ops.slice(before + 1))
    assert.deepEqual([rest.refused, rest.unsealed, rest.applied], [[], [], 20 - before])
    assert.deepEqual(await dumpTree(b), await dumpTree(a))
  })

  it('still applies ops signed one by one with no prev (logged before seals)', async (t) => {
    const { b, signer } = await pair(t)
    const old = Array.from({ length: 3 }, (_, i) => {
      const body = encodeOp({ v: 1, hlc: 1_000_000n + BigInt(i), author: 'dev-a', seq: i + 1, time: 1_000_000n, kind: 'create', parent: 'root', name: `old${i}`, type: 'file', mode: 0o644, uid: 0, gid: 0, rdev: 0 })
      return { body, sig: signer.sign(Buffer.from(body)) }
    })
    assert.equal(JSON.parse(old[1].body).prev, undefined)
    const report = await b.applyRemote(old)
    assert.deepEqual([report.refused, report.unsealed, report.applied], [[], [], 3])
    for (const name of ['old0', 'old1', 'old2']) assert.ok(await b.lookup(ROOT_INO, name), name)
  })

  it('fsck reports an op whose text no longer matches its successor\'s prev', async (t) => {
    const { a, dir } = await pair(t)
    await burst(a, 10, 'f')
    assert.deepEqual((await a.check()).problems, [])
    const ops = await opsOf(a)
    assert.ok(ops[4].sig == null, 'op 5 is not a seal')
    const before = seals_(ops).filter(i => i < 4).pop() ?? -1
    await a.stop()
    const db = await Db.open(join(dir, 'a.db'))
    await db.exec('UPDATE ops SET body = replace(body, \'"name":"f4"\', \'"name":"x4"\') WHERE author = \'dev-a\' AND seq = 5')
    await db.close()
    // Without a key of its own: the one in the journal stays A's.
    const reopened = createMetaStore({ path: join(dir, 'a.db'), deviceId: 'dev-a' })
    await reopened.start()
    onCleanup(t, async () => { await reopened.stop() })
    const check = await reopened.check()
    assert.equal(check.ok, false)
    assert.equal(check.counts.signature, 4 - before, 'the changed op and the ops its seal reaches only through it')
    assert.ok(check.problems.some(p => p.kind === 'signature' && p.message.startsWith('op 5@dev-a (create): bad signature: its text is not the one op 6')), JSON.stringify(check.problems))
  })

  it('a rebuild from the op log (fsck --repair) leaves out an op whose text no longer matches, and what it sealed', async (t) => {
    const { a, dir, signer } = await pair(t)
    await burst(a, 10, 'f')
    const ops = await opsOf(a)
    assert.ok(ops[4].sig == null, 'op 5 is not a seal')
    const before = seals_(ops).filter(i => i < 4).pop() ?? -1
    await a.stop()
    const path = join(dir, 'a.db')
    const db = await Db.open(path)
    await db.exec('UPDATE ops SET body = replace(body, \'"name":"f4"\', \'"name":"x4"\') WHERE author = \'dev-a\' AND seq = 5')
    await db.close()
    const r = await rebuildJournal({ path, deviceId: 'dev-a', publicKey: signer.publicKey })
    assert.equal(r.read, 10)
    // Ops up to the seal before op 5 apply; op 5 and the ops it linked to their seal are refused,
    // the ops after it as a gap.
    assert.equal(r.applied, before + 1)
    assert.equal(r.rejected, 10 - before - 1)
    assert.match(r.firstReason ?? '', /^op \d+@dev-a bad signature/)
    const again = createMetaStore({ path, deviceId: 'dev-a' })
    onCleanup(t, async () => { await again.stop() })
    await again.start()
    assert.equal(await again.lookup(ROOT_INO, 'x4'), undefined)
    assert.equal((await dumpTree(again)).length, before + 1)
  })
})

/** Indices of the ops that carry a signature (seals). */
function seals_ (ops: Array<{ sig?: Uint8Array }>): number[] {
  return ops.flatMap((o, i) => o.sig != null ? [i] : [])
}
