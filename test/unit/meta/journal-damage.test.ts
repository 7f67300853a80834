/**
 * Journal damage is caught, never silent (issue 12, defect 6), on real SQLite files and real redo
 * segments:
 * - a page of the `inodes` table damaged: start refuses with the way to recover, and the rebuild
 *   from the op log (what `palm fsck --repair` runs) gives back all 300 names;
 * - one flipped byte in the third of ten frames of the last redo segment: the 7 valid frames after
 *   it are applied, the segment is kept aside in damaged/, and health() says so;
 * - the same with the damaged op missing from the database: the ops after it cannot apply, and that
 *   loss is reported, with the segment kept.
 */
import assert from 'node:assert/strict'
import { copyFile, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createMetaStore, rebuildJournal, type SignedOp } from '../../../src/meta/index.js'
import { RedoLog, redoSegments } from '../../../src/meta/redo.js'
import { parseSegment } from '../../../src/meta/redo-frames.js'
import { ROOT_INO } from '../../../src/meta/types.js'
import { damageTablePage } from '../../helpers/sqlite-pages.js'
import { createTempDir, onCleanup, type Cleanup } from '../../helpers/tmp.js'
import { testSigner } from '../../compliance/meta-store-tests.js'

const DEVICE = 'dev-damage'
const signer = testSigner()
const init = (path: string): { path: string, deviceId: string, sign: typeof signer.sign, publicKey: Uint8Array } => ({ path, deviceId: DEVICE, sign: signer.sign, publicKey: signer.publicKey })
const file = { type: 'file' as const, mode: 0o644, uid: 0, gid: 0 }

/** A started store on `path`, stopped after the test. */
async function started (t: Cleanup, path: string): Promise<ReturnType<typeof createMetaStore>> {
  const s = createMetaStore(init(path))
  onCleanup(t, async () => { await s.stop().catch(() => {}) })
  await s.start()
  return s
}

async function exists (path: string): Promise<boolean> {
  return await stat(path).then(() => true, () => false)
}

describe('journal damage', () => {
  it('refuses a journal with a damaged inodes page and rebuilds all 300 names from the op log', async (t) => {
    const dir = await createTempDir(t, 'palm-damage-')
    const path = join(dir, 'journal.db')
    const names = Array.from({ length: 300 }, (_, i) => `name-${i}`)
    const s = createMetaStore(init(path))
    await s.start()
    for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map(async n => await s.create(ROOT_INO, n, file)))
    await s.stop()

    const page = await damageTablePage(path, 'inodes')
    assert.ok(page.cellsAfter < page.cellsBefore, `damaged page ${page.page}`)

    const refused = createMetaStore(init(path))
    await assert.rejects(refused.start(), (err: Error & { code?: string }) => {
      assert.equal(err.name, 'JournalDamagedError')
      assert.equal(err.code, 'EIO')
      assert.match(err.message, /palm fsck --repair/)
      assert.doesNotMatch(err.message, /\n/)
      return true
    })
    await refused.stop()

    const r = await rebuildJournal(init(path))
    assert.equal(r.rejected, 0, r.firstReason)
    assert.equal(r.read, 300)
    assert.equal(r.applied, 300)
    assert.ok(r.keptAt.some(p => p.startsWith(join(dir, 'damaged', 'journal.db.'))), `damaged copy kept: ${r.keptAt.join(', ')}`)
    for (const p of r.keptAt) assert.ok(await exists(p), p)

    const again = await started(t, path)
    for (const n of names) assert.ok(await again.lookup(ROOT_INO, n) != null, `${n} is back`)
    assert.equal((await again.readdir(ROOT_INO, 0, 1000)).length, 300)
    assert.deepEqual((await again.check()).problems, [])
    const health = again.health()
    assert.equal(health.ok, false, 'status still tells what happened')
    assert.match(health.problems.join('\n'), /rebuilt it from its op log/)
  })

  /** A journal whose database holds the first `committed` of ten creates, and a redo segment with all ten; frame 3 is damaged. */
  async function damagedRedo (t: Cleanup, committed: number, flip: (frameStart: number, frameLength: number) => number): Promise<{ path: string, dir: string }> {
    const work = await createTempDir(t, 'palm-redo-damage-')
    const source = join(work, 'source.db')
    let s = createMetaStore(init(source))
    await s.start()
    for (let i = 0; i < committed; i++) await s.create(ROOT_INO, `f${i}`, file)
    await s.stop()
    const dir = join(work, 'home')
    await import('node:fs/promises').then(async fs => { await fs.mkdir(dir) })
    const path = join(dir, 'journal.db')
    await copyFile(source, path)
    s = createMetaStore(init(source))
    await s.start()
    for (let i = committed; i < 10; i++) await s.create(ROOT_INO, `f${i}`, file)
    const ops: SignedOp[] = []
    for await (const op of s.exportOps()) ops.push(op)
    await s.stop()
    assert.equal(ops.length, 10)

    // The redo log the killed run would have left: all ten ops, the database has `committed`.
    const { log } = await RedoLog.open(path)
    for (const op of ops) log.append({ text: op.body }, 1)
    await log.sync()
    await log.close(true)
    const [segment] = await redoSegments(path)
    const bytes = await readFile(segment)
    let at = 0
    for (let i = 0; i < 2; i++) at += 12 + bytes.readUInt32LE(at + 4)
    bytes[flip(at, 12 + bytes.readUInt32LE(at + 4))] ^= 0x20
    await writeFile(segment, bytes)
    const parsed = parseSegment(bytes)
    assert.equal(parsed.frames.length, 9)
    assert.deepEqual(parsed.damaged.map(d => d.framesAfter), [7])
    return { path, dir }
  }

  for (const [where, flip] of [['its op text', (s: number, n: number) => s + Math.floor(n / 2)], ['its length', (s: number) => s + 5]] as const) {
    it(`applies the 7 frames after a flipped byte in ${where} (frame 3 of 10) and keeps the segment aside`, async (t) => {
      const { path, dir } = await damagedRedo(t, 3, flip)
      const s = await started(t, path)
      for (let i = 0; i < 10; i++) assert.ok(await s.lookup(ROOT_INO, `f${i}`) != null, `f${i}`)
      assert.deepEqual((await s.check()).problems, [])
      const h = s.health()
      assert.equal(h.ok, false)
      assert.equal(h.redo?.applied, 7)
      assert.equal(h.redo?.damaged, 1)
      assert.equal(h.redo?.keptAt.length, 1)
      assert.match(h.problems.join('\n'), /damaged.*7 valid ops after the damage/)
      assert.deepEqual(await redoSegments(path), [`${path}-redo-1`], 'the damaged segment is not left to be deleted')
      const kept = await readdir(join(dir, 'damaged'))
      assert.ok(kept.some(n => n.startsWith('journal.db-redo-0.')), kept.join(', '))
      assert.ok(kept.includes('journal-damage.log'))
    })
  }

  it('reports the ops it cannot apply after damage (their predecessor is lost) and keeps them', async (t) => {
    const { path, dir } = await damagedRedo(t, 2, (s, n) => s + Math.floor(n / 2))
    const s = await started(t, path)
    assert.ok(await s.lookup(ROOT_INO, 'f1') != null)
    const h = s.health()
    assert.equal(h.ok, false)
    assert.equal(h.redo?.notApplied, 7)
    assert.match(h.problems.join('\n'), /7 ops could not be applied/)
    assert.ok((await readdir(join(dir, 'damaged'))).some(n => n.startsWith('journal.db-redo-0.')))
    assert.deepEqual((await s.check()).problems, [])
    await s.stop()
    // A later start still says so (the note is in damaged/journal-damage.log).
    const again = await started(t, path)
    assert.match(again.health().problems.join('\n'), /7 ops could not be applied/)
  })
})
