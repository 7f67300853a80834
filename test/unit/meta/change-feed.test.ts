/**
 * The journal's change feed: two real SQLite journals (files); ops made on A, exported and applied
 * on B with applyOp (A's key trusted), must be reported on B as remote changes naming B's own inode
 * numbers, entries, content and xattrs. B's own calls are reported with remote: false.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import pWaitFor from 'p-wait-for'
import { createMetaStore } from '../../../src/meta/index.js'
import { ROOT_INO, type JournalChange, type MetaStore, type SignedOp } from '../../../src/meta/types.js'
import { stripe, testSigner } from '../../compliance/meta-store-tests.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'

const FILE = { type: 'file', mode: 0o644, uid: 0, gid: 0 } as const
const DIR = { type: 'dir', mode: 0o755, uid: 0, gid: 0 } as const

async function openStore (t: TestContext, dir: string, deviceId: string, signer?: ReturnType<typeof testSigner>): Promise<MetaStore> {
  const s = createMetaStore({ path: join(dir, `${deviceId}.db`), deviceId, ...signer })
  await s.start()
  onCleanup(t, async () => { await s.stop() })
  return s
}

/** Two journals, A signing its ops, B trusting A's key; `ship()` applies A's new ops on B one by one (each signed alone). */
async function twoDevices (t: TestContext): Promise<{ a: MetaStore, b: MetaStore, ship: () => Promise<JournalChange[][]>, events: JournalChange[] }> {
  const dir = await createTempDir(t, 'palm-feed-')
  const signer = testSigner()
  const a = await openStore(t, dir, 'dev-a', signer)
  const b = await openStore(t, dir, 'dev-b')
  await b.trustAuthor('dev-a', signer.publicKey)
  const events: JournalChange[] = []
  const off = b.onChange(c => { events.push(c) })
  onCleanup(t, off)
  let shipped = 0
  const ship = async (): Promise<JournalChange[][]> => {
    const ops: SignedOp[] = []
    for await (const op of a.exportOps()) if (op.op.seq > shipped) ops.push(op)
    const perOp: JournalChange[][] = []
    for (const op of ops) {
      const before = events.length
      // applyOp resolves after the commit; the feed reports a batch before its callers are answered.
      // An op that is not its batch's seal is signed alone here (an op with its own signature
      // verifies alone), so that each op is applied, and reported, by itself.
      await b.applyOp(op.sig != null ? op : { ...op, sig: signer.sign(Buffer.from(op.body)) })
      shipped = op.op.seq
      perOp.push(events.slice(before))
    }
    return perOp
  }
  return { a, b, ship, events }
}

const has = (list: Array<{ parent: number, name: string }>, parent: number, name: string): boolean => list.some(e => e.parent === parent && e.name === name)

describe('journal change feed', () => {
  it('reports ops applied from another device as remote changes with this device\'s inodes', async (t) => {
    const { a, b, ship } = await twoDevices(t)

    const d = await a.create(ROOT_INO, 'd', DIR)
    const f = await a.create(d.ino, 'f', FILE)
    const [createD, createF] = await ship()
    const bd = await b.lookup(ROOT_INO, 'd')
    const bf = await b.lookup(bd?.ino ?? -1, 'f')
    assert.ok(bd != null && bf != null)
    assert.equal(createD.length, 1)
    assert.equal(createD[0].remote, true)
    assert.ok(has(createD[0].entries, ROOT_INO, 'd'))
    assert.ok(createD[0].inodes.includes(bd.ino) && createD[0].inodes.includes(ROOT_INO))
    assert.deepEqual(createD[0].content, [])
    assert.ok(has(createF[0].entries, bd.ino, 'f'))
    assert.ok(createF[0].inodes.includes(bf.ino))

    await a.setContent(f.ino, { size: 12, stripeSize: 8, stripes: [stripe(0, 8), stripe(1, 4)] })
    await a.setattr(f.ino, { mode: 0o600 })
    await a.setxattr(f.ino, 'user.k', new Uint8Array([1]))
    const [content, chmod, xattr] = await ship()
    assert.deepEqual(content[0].content, [bf.ino])
    assert.ok(content[0].inodes.includes(bf.ino))
    assert.deepEqual(content[0].entries, [])
    assert.deepEqual(chmod[0].content, [], 'a mode change is not a content change')
    assert.deepEqual(chmod[0].inodes, [bf.ino])
    assert.deepEqual(xattr[0].xattrs, [bf.ino])

    await a.setattr(f.ino, { size: 3 }) // truncation drops stripe 1
    await a.rename(d.ino, 'f', ROOT_INO, 'g')
    const [truncate, rename] = await ship()
    assert.deepEqual(truncate[0].content, [bf.ino])
    assert.ok(has(rename[0].entries, bd.ino, 'f') && has(rename[0].entries, ROOT_INO, 'g'))
    assert.deepEqual(rename[0].content, [])
    assert.equal((await b.lookup(ROOT_INO, 'g'))?.ino, bf.ino)

    await a.unlink(ROOT_INO, 'g')
    await a.releaseInode(f.ino)
    const [unlink, release] = await ship()
    assert.ok(has(unlink[0].entries, ROOT_INO, 'g'))
    assert.deepEqual(unlink[0].content, [])
    assert.deepEqual(release[0].content, [bf.ino], 'a purge drops the stripes')
    assert.ok(release[0].inodes.includes(bf.ino))

    // B's own calls: reported, flagged local.
    const events: JournalChange[] = []
    const remoteOnly: JournalChange[] = []
    const off = b.onChange(c => { events.push(c) })
    onCleanup(t, b.onChange(c => { remoteOnly.push(c) }, { remoteOnly: true }))
    // A local call is answered once in the redo log; its batch commits (and is reported) just after.
    await b.create(ROOT_INO, 'mine', FILE)
    await pWaitFor(() => events.length > 0, { timeout: 10_000 })
    off()
    const unheard = await b.create(ROOT_INO, 'unheard', FILE)
    await b.pathOf(unheard.ino) // waits for every applied op to commit
    assert.equal(events.length, 1)
    assert.equal(events[0].remote, false)
    assert.ok(has(events[0].entries, ROOT_INO, 'mine'))
    assert.equal(remoteOnly.length, 0, 'a remote-only listener hears nothing of local batches')
    await a.create(ROOT_INO, 'theirs', FILE)
    await ship()
    assert.equal(remoteOnly.length, 1)
    assert.ok(has(remoteOnly[0].entries, ROOT_INO, 'theirs'))
  })

  it('names both entries of a rename, and a listener that throws does not break the journal', async (t) => {
    const { a, b, ship } = await twoDevices(t)
    const d = await a.create(ROOT_INO, 'd', DIR)
    await a.create(ROOT_INO, 'x', FILE)
    await ship()
    const bd = await b.lookup(ROOT_INO, 'd')
    assert.ok(bd != null)
    const off = b.onChange(() => { throw new Error('listener bug') })
    onCleanup(t, off)
    await a.rename(ROOT_INO, 'x', d.ino, 'y')
    const [[rename]] = await ship()
    assert.equal(rename.remote, true)
    assert.ok(has(rename.entries, ROOT_INO, 'x'), 'the old name')
    assert.ok(has(rename.entries, bd.ino, 'y'), 'the new name')
    assert.ok(rename.inodes.includes(ROOT_INO) && rename.inodes.includes(bd.ino), 'both directories changed')
    assert.ok(await b.lookup(bd.ino, 'y') != null)
    assert.equal(await b.lookup(ROOT_INO, 'x'), undefined)
  })

  it('reports local content changes too (stripe writes, holes, growth)', async (t) => {
    // In memory (no redo log) each call returns after its own commit: one batch, one event per call.
    const s = createMetaStore({ path: ':memory:', deviceId: 'dev-a' })
    await s.start()
    onCleanup(t, async () => { await s.stop() })
    const events: JournalChange[] = []
    onCleanup(t, s.onChange(c => { events.push(c) }))
    const f = await s.create(ROOT_INO, 'f', FILE)
    await s.setContent(f.ino, { size: 16, stripeSize: 8, stripes: [stripe(0, 8), stripe(1, 8)] })
    await s.setContent(f.ino, { size: 16, stripeSize: 8, stripes: [], holes: [1] })
    await s.setContent(f.ino, { size: 32, stripeSize: 8, stripes: [] }) // growth only: a hole, no stripe statement
    const content = events.map(e => e.content)
    assert.ok(events.every(e => !e.remote))
    assert.deepEqual(content, [[], [f.ino], [f.ino], []])
    assert.ok(events[3].inodes.includes(f.ino), 'the size change is an inode change')
  })
})
