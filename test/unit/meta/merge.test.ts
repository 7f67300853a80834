/**
 * Replicated journals converge (docs/journal.md, "Late ops" and "Conflicts"): real SQLite journals
 * on files, each signing its own ops and trusting the others' keys, exchange their logs in whatever
 * order; ops older than ops already applied are applied by undo-redo. Every journal must end with
 * the same tree, no cycle, nothing lost (conflicting creates keep both), and a clean check().
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createMetaStore } from '../../../src/meta/index.js'
import { ROOT_INO, type MetaStore } from '../../../src/meta/types.js'
import { testSigner } from '../../compliance/meta-store-tests.js'
import { prng } from '../../helpers/prng.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'
import { conflictName } from '../../../src/meta/conflict-name.js'
import { assertConverged, devices, DIR, FILE, logicalClock, send, stripe, syncAll } from './merge-helpers.js'

describe('replicated journal merge', () => {
  it('applies concurrent writes of two devices in one order everywhere (late ops by undo-redo)', async (t) => {
    const [a, b] = await devices(t, 2)
    for (let i = 0; i < 20; i++) {
      const s = i % 2 === 0 ? a : b
      const f = await s.create(ROOT_INO, `f${i}`, FILE)
      await s.setContent(f.ino, { size: 8, stripeSize: 8, stripes: [stripe(0, 8, `${i}`)] })
      if (i % 3 === 0) await s.setxattr(f.ino, 'user.k', new Uint8Array([i]))
    }
    await syncAll([a, b])
    const tree = await assertConverged([a, b])
    assert.equal(tree.filter(l => /^\/f\d+ file/.test(l)).length, 20)
  })

  it('keeps both files when two devices create one name, and merges nothing into a cycle', async (t) => {
    const [a, b] = await devices(t, 2)
    await a.create(ROOT_INO, 'x', DIR)
    await a.create(ROOT_INO, 'y', DIR)
    await send(a, b)
    // Partitioned: crossed renames and two creates of one name.
    await a.rename(ROOT_INO, 'x', (await a.lookup(ROOT_INO, 'y'))!.ino, 'x')
    const by = (await b.lookup(ROOT_INO, 'y'))!
    await b.rename(ROOT_INO, 'y', (await b.lookup(ROOT_INO, 'x'))!.ino, 'y')
    const fa = await a.create(ROOT_INO, 'same.txt', FILE)
    await a.setContent(fa.ino, { size: 1, stripeSize: 8, stripes: [stripe(0, 1, 'from-a')] })
    const fb = await b.create(ROOT_INO, 'same.txt', FILE)
    await b.setContent(fb.ino, { size: 2, stripeSize: 8, stripes: [stripe(0, 2, 'from-b')] })
    await syncAll([a, b])
    const tree = await assertConverged([a, b])
    // One rename won (the later), the other was skipped: both directories stay reachable.
    assert.equal(tree.filter(l => / dir /.test(l)).length, 2, tree.join('\n'))
    const same = tree.filter(l => l.includes('same.txt'))
    assert.equal(same.length, 2, tree.join('\n'))
    assert.ok(same.some(l => /same\.txt \(conflict \S+ \d{4}-\d\d-\d\d \d{6}\) file/.test(l)), same.join('\n'))
    assert.ok(same.some(l => l.includes('st-from-a')) && same.some(l => l.includes('st-from-b')))
  })

  it('converges under random ops, partitions and heals on three devices', async (t) => {
    const seed = Number(process.env.PALM_MERGE_SEED ?? Math.floor(Math.random() * 2 ** 31))
    t.diagnostic(`seed ${seed} (PALM_MERGE_SEED=${seed} replays it)`)
    const rnd = prng(seed)
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]
    const stores = await devices(t, 3)
    const names = ['a', 'b', 'c', 'd']
    for (let step = 0; step < 600; step++) {
      const s = pick(stores)
      const dirs = [ROOT_INO]
      for (const n of names) {
        const e = await s.lookup(ROOT_INO, n)
        if (e?.type === 'dir') dirs.push(e.ino)
      }
      const dir = pick(dirs)
      const name = pick(names)
      const r = rnd()
      try {
        if (r < 0.25) {
          const f = await s.create(dir, name, FILE)
          await s.setContent(f.ino, { size: 4, stripeSize: 8, stripes: [stripe(0, 4, `${seed}-${step}`)] })
        } else if (r < 0.35) await s.create(dir, name, DIR)
        else if (r < 0.5) { const { replaced } = await s.rename(dir, name, pick(dirs), pick(names)); if (replaced?.nlink === 0 && replaced.type !== 'dir') await s.releaseInode(replaced.ino) }
        else if (r < 0.6) { const e = await s.lookup(dir, name); if (e != null) await s.unlink(dir, name).then(async a => { if (a.nlink === 0) await s.releaseInode(a.ino) }) }
        else if (r < 0.65) await s.rmdir(dir, name)
        else if (r < 0.72) { const e = await s.lookup(dir, name); if (e != null) await s.link(e.ino, pick(dirs), `${name}-l`) }
        else if (r < 0.8) { const e = await s.lookup(dir, name); if (e != null) await s.setxattr(e.ino, 'user.t', new Uint8Array([step & 0xff])) }
        else if (r < 0.9) { const e = await s.lookup(dir, name); if (e?.type === 'file') await s.setattr(e.ino, { size: Math.floor(rnd() * 12) }) }
        else {
          // A partial sync between two devices (the third stays partitioned).
          const [x, y] = [pick(stores), pick(stores)]
          if (x !== y) await send(x, y)
        }
      } catch (err) {
        if ((err as { code?: string }).code == null) throw err
      }
    }
    await syncAll(stores)
    await syncAll(stores)
    await assertConverged(stores)
  })
})

describe('replicated journal conflicts', () => {
  it('merges two mkdirs of one name: what each device made inside lands in the one directory', async (t) => {
    const [a, b] = await devices(t, 2)
    const da = await a.create(ROOT_INO, 'photos', DIR)
    await a.create(da.ino, 'from-a.jpg', FILE)
    const db = await b.create(ROOT_INO, 'photos', DIR)
    await b.create(db.ino, 'from-b.jpg', FILE)
    const sub = await b.create(db.ino, 'album', DIR)
    await b.create(sub.ino, 'deep.jpg', FILE)
    await syncAll([a, b])
    // Made after the merge, in the directory each device now finds at that name (on the device whose
    // mkdir was later, the merged directory has the other's inode: a lookup finds it).
    await b.create((await b.lookup(ROOT_INO, 'photos'))!.ino, 'later-b.jpg', FILE)
    await a.create((await a.lookup(ROOT_INO, 'photos'))!.ino, 'later-a.jpg', FILE)
    await syncAll([a, b])
    const tree = await assertConverged([a, b])
    assert.deepEqual(tree.map(l => l.split(' ')[0]), ['/photos', '/photos/album', '/photos/album/deep.jpg', '/photos/from-a.jpg', '/photos/from-b.jpg', '/photos/later-a.jpg', '/photos/later-b.jpg'])
  })

  it('keeps the version a concurrent write did not see as a conflict copy, and an edit survives a concurrent delete', async (t) => {
    const [a, b] = await devices(t, 2)
    const d = await a.create(ROOT_INO, 'docs', DIR)
    const f = await a.create(d.ino, 'report.txt', FILE)
    await a.setContent(f.ino, { size: 8, stripeSize: 8, stripes: [stripe(0, 8, 'v0')] })
    const g = await a.create(ROOT_INO, 'notes.txt', FILE)
    await a.setContent(g.ino, { size: 8, stripeSize: 8, stripes: [stripe(0, 8, 'n0')] })
    const g2 = await a.create(ROOT_INO, 'todo.txt', FILE)
    await a.setContent(g2.ino, { size: 8, stripeSize: 8, stripes: [stripe(0, 8, 't0')] })
    await send(a, b)
    // The edit first, the delete that did not see it after, in total order: the edit still wins.
    await b.setContent((await b.lookup(ROOT_INO, 'todo.txt'))!.ino, { size: 6, stripeSize: 8, stripes: [stripe(0, 6, 't-edit')] })
    await new Promise(resolve => setTimeout(resolve, 5))
    await a.unlink(ROOT_INO, 'todo.txt')
    // Partitioned: both edit report.txt; a deletes notes.txt while b edits it.
    await a.setContent(f.ino, { size: 5, stripeSize: 8, stripes: [stripe(0, 5, 'from-a')] })
    // Each store's clock has its own sub-millisecond base: 5 ms make b's edit the later one.
    await new Promise(resolve => setTimeout(resolve, 5))
    const fb = (await b.lookup((await b.lookup(ROOT_INO, 'docs'))!.ino, 'report.txt'))!
    await b.setContent(fb.ino, { size: 6, stripeSize: 8, stripes: [stripe(0, 6, 'from-b')] })
    await a.unlink(ROOT_INO, 'notes.txt')
    const gb = (await b.lookup(ROOT_INO, 'notes.txt'))!
    await b.setContent(gb.ino, { size: 7, stripeSize: 8, stripes: [stripe(0, 7, 'n-edit')] })
    // Deleted and purged (released) on a, rewritten whole on b: the edit comes back as a new file.
    const h = await a.create(ROOT_INO, 'purged.txt', FILE)
    await a.setContent(h.ino, { size: 8, stripeSize: 8, stripes: [stripe(0, 8, 'p0')] })
    await send(a, b)
    await a.unlink(ROOT_INO, 'purged.txt')
    await a.releaseInode(h.ino)
    const hb = (await b.lookup(ROOT_INO, 'purged.txt'))!
    // Rewritten as an editor does (truncate, then the new bytes): two writes, one file at the end.
    await b.setContent(hb.ino, { size: 0, stripeSize: 8, stripes: [] })
    await b.setContent(hb.ino, { size: 3, stripeSize: 8, stripes: [stripe(0, 3, 'p-edit')] })
    await syncAll([a, b])
    const tree = await assertConverged([a, b])
    const reports = tree.filter(l => l.startsWith('/docs/report.txt'))
    assert.equal(reports.length, 2, tree.join('\n'))
    // b wrote later: it keeps the name; a's version is the copy, named after its author.
    assert.ok(reports.some(l => /^\/docs\/report\.txt file .*st-from-b/.test(l)), reports.join('\n'))
    assert.ok(reports.some(l => /^\/docs\/report\.txt \(conflict dev-0 \S+ \d{6}\) file .*st-from-a/.test(l)), reports.join('\n'))
    assert.ok(tree.some(l => /^\/notes\.txt file n1 s7 .*st-n-edit/.test(l)), tree.join('\n'))
    assert.ok(tree.some(l => /^\/todo\.txt file n1 s6 .*st-t-edit/.test(l)), tree.join('\n'))
    assert.ok(tree.some(l => /^\/purged\.txt file n1 s3 .*st-p-edit/.test(l)), tree.join('\n'))
    assert.equal(tree.filter(l => l.startsWith('/purged.txt')).length, 1, tree.join('\n'))
  })
  it('never replaces a file edited concurrently by a rename over it (an editor\'s save), in either total order', async (t) => {
    const [a, b] = await devices(t, 2)
    for (const name of ['first.txt', 'second.txt']) {
      const f = await a.create(ROOT_INO, name, FILE)
      await a.setContent(f.ino, { size: 8, stripeSize: 8, stripes: [stripe(0, 8, `${name}-v0`)] })
    }
    await send(a, b)
    const save = async (s: MetaStore, name: string, tag: string): Promise<void> => {
      const tmp = await s.create(ROOT_INO, `.${name}.swp`, FILE)
      await s.setContent(tmp.ino, { size: 5, stripeSize: 8, stripes: [stripe(0, 5, tag)] })
      await s.rename(ROOT_INO, `.${name}.swp`, ROOT_INO, name)
    }
    const edit = async (s: MetaStore, name: string, tag: string): Promise<void> => {
      await s.setContent((await s.lookup(ROOT_INO, name))!.ino, { size: 6, stripeSize: 8, stripes: [stripe(0, 6, tag)] })
    }
    // first.txt: the save sorts first, the edit after; second.txt: the edit first, the save after.
    await save(a, 'first.txt', 'saved-1')
    await new Promise(resolve => setTimeout(resolve, 5))
    await edit(b, 'first.txt', 'edited-1')
    await edit(b, 'second.txt', 'edited-2')
    await new Promise(resolve => setTimeout(resolve, 5))
    await save(a, 'second.txt', 'saved-2')
    await syncAll([a, b])
    const tree = await assertConverged([a, b])
    for (const n of ['1', '2']) {
      assert.ok(tree.some(l => l.includes(`st-saved-${n}`)), `the save ${n} survives:\n${tree.join('\n')}`)
      assert.ok(tree.some(l => l.includes(`st-edited-${n}`)), `the edit ${n} survives:\n${tree.join('\n')}`)
    }
  })

  // Found by the model test (seeds 2 and 3): the edit was dropped when its conflict name was taken.
  it('brings an edit of a file deleted concurrently back under a numbered conflict name when the first is taken', async (t) => {
    // One logical clock from a fixed second: every op below has the same conflict-name stamp.
    const start = 1_800_000_000_000_000_000n
    const [a, b] = await devices(t, 2, logicalClock(start))
    for (const name of ['purged', 'unlinked']) {
      const f = await a.create(ROOT_INO, name, FILE)
      await a.setContent(f.ino, { size: 8, stripeSize: 8, stripes: [stripe(0, 8, `${name}-v0`)] })
    }
    await send(a, b)
    // a deletes both (and purges one), then takes their names and their first conflict names.
    for (const name of ['purged', 'unlinked']) {
      const e = (await a.lookup(ROOT_INO, name))!
      await a.unlink(ROOT_INO, name)
      if (name === 'purged') await a.releaseInode(e.ino)
      await a.create(ROOT_INO, name, FILE)
      await a.create(ROOT_INO, conflictName(name, 'dev-1', start), FILE)
    }
    // b, which saw neither delete, edits both: later in total order.
    for (const name of ['purged', 'unlinked']) {
      await b.setContent((await b.lookup(ROOT_INO, name))!.ino, { size: 3, stripeSize: 8, stripes: [stripe(0, 3, `${name}-edit`)] })
    }
    await syncAll([a, b])
    const tree = await assertConverged([a, b])
    for (const name of ['purged', 'unlinked']) {
      assert.ok(tree.some(l => l.startsWith(`/${conflictName(`${name} 2`, 'dev-1', start)} file n1 s3 `) && l.includes(`st-${name}-edit`)), `${name}'s edit survives:\n${tree.join('\n')}`)
    }
  })

  // Found by the model test (seed 1): what a device made in a directory another device removed was lost.
  it('brings back a directory removed concurrently (rmdir, or a rename over it) with what another device made in it', async (t) => {
    const [a, b] = await devices(t, 2, logicalClock())
    const d = await a.create(ROOT_INO, 'd', DIR)
    await a.create(d.ino, 'e', DIR)
    await a.create(ROOT_INO, 'x', DIR)
    await send(a, b)
    // a removes d/e and d, and moves a new directory y over the empty x.
    await a.rmdir(d.ino, 'e')
    await a.rmdir(ROOT_INO, 'd')
    const y = await a.create(ROOT_INO, 'y', DIR)
    await a.create(y.ino, 'from-y', FILE)
    await a.rename(ROOT_INO, 'y', ROOT_INO, 'x')
    // b, which saw none of it (its ops are later in total order): a file in d/e, one in x, a
    // directory moved into d/e, and a hard link into x.
    const db = (await b.lookup(ROOT_INO, 'd'))!
    const eb = (await b.lookup(db.ino, 'e'))!
    const xb = (await b.lookup(ROOT_INO, 'x'))!
    const f = await b.create(eb.ino, 'f', FILE)
    await b.setContent(f.ino, { size: 4, stripeSize: 8, stripes: [stripe(0, 4, 'in-e')] })
    const g = await b.create(xb.ino, 'g', FILE)
    await b.setContent(g.ino, { size: 4, stripeSize: 8, stripes: [stripe(0, 4, 'in-x')] })
    const m = await b.create(ROOT_INO, 'moved', DIR)
    await b.create(m.ino, 'deep', FILE)
    await b.rename(ROOT_INO, 'moved', eb.ino, 'moved')
    await b.link(f.ino, xb.ino, 'f-link')
    await syncAll([a, b])
    const tree = (await assertConverged([a, b])).map(l => l.replace(/ n(\d+) .*\[(.*)\] $/, ' n$1 [$2]'))
    const x = conflictName('x', 'dev-0', 0n).replace(/ \d{4}-\d\d-\d\d \d{6}\)$/, '')
    const copy = tree.find(l => l.startsWith(`/${x} `))?.split(' dir')[0] ?? '(no copy of x)'
    assert.deepEqual(tree, [
      '/d dir n3 []', '/d/e dir n3 []', '/d/e/f file n2 [0:st-in-e]', '/d/e/moved dir n2 []', '/d/e/moved/deep file n1 []',
      '/x dir n2 []', '/x/from-y file n1 []',
      `${copy} dir n2 []`, `${copy}/f-link file n2 [0:st-in-e]`, `${copy}/g file n1 [0:st-in-x]`
    ].sort())
  })

  // Found on the namespace LAN (PALM_DIFF_SEED=734783844): b's mkdir merged into a's directory of
  // that name, a removed it (it saw it empty), and every later op of b in it named b's id, an alias
  // of an inode that was gone: all were skipped, with what b wrote there.
  it('brings back a directory merged with a concurrent mkdir and then removed, for ops that name either id', async (t) => {
    const [a, b, joiner] = await devices(t, 3, logicalClock())
    const p = await a.create(ROOT_INO, 'p', DIR)
    await send(a, b)
    const pb = (await b.lookup(ROOT_INO, 'p'))!
    // Both make p/d and p/e; a's mkdirs come first in total order, so b's ids become aliases.
    await a.create(p.ino, 'd', DIR)
    await a.create(p.ino, 'e', DIR)
    const db = await b.create(pb.ino, 'd', DIR)
    const eb = await b.create(pb.ino, 'e', DIR)
    await send(b, a)
    // a, which saw both empty: removes d, moves a new directory over e.
    await a.rmdir(p.ino, 'd')
    const y = await a.create(p.ino, 'y', DIR)
    await a.rename(p.ino, 'y', p.ino, 'e')
    // b, which did not see that: writes in both (by its own ids), and a directory in d.
    const f = await b.create(db.ino, 'f', FILE)
    await b.setContent(f.ino, { size: 4, stripeSize: 8, stripes: [stripe(0, 4, 'in-d')] })
    const sub = await b.create(db.ino, 'sub', DIR)
    await b.create(sub.ino, 'g', FILE)
    const h = await b.create(eb.ino, 'h', FILE)
    await b.setContent(h.ino, { size: 4, stripeSize: 8, stripes: [stripe(0, 4, 'in-e')] })
    await syncAll([a, b])
    const tree = (await assertConverged([a, b])).map(l => l.replace(/ n(\d+) .*\[(.*)\] $/, ' n$1 [$2]'))
    const e = conflictName('e', 'dev-0', 0n).replace(/ \d{4}-\d\d-\d\d \d{6}\)$/, '')
    const copy = tree.find(l => l.startsWith(`/p/${e} `))?.split(' dir')[0] ?? '(no copy of e)'
    assert.deepEqual(tree, [
      '/p dir n5 []', '/p/d dir n3 []', '/p/d/f file n1 [0:st-in-d]', '/p/d/sub dir n2 []', '/p/d/sub/g file n1 []',
      '/p/e dir n2 []', `${copy} dir n2 []`, `${copy}/h file n1 [0:st-in-e]`
    ].sort())
    // A device that takes b's ops first and a's after them: a's earlier ones (the removals) arrive
    // late, so b's ops, the revivals among them, are undone and redone (an alias pointed at a revived
    // directory gets its old inode back on undo).
    for (const author of ['dev-1', 'dev-0']) {
      const ops = (await a.readOps(author, 0, 1000)).map(o => ({ body: o.body, sig: o.sig }))
      assert.deepEqual((await joiner.applyRemote(ops)).refused, [])
    }
    await assertConverged([a, b, joiner])
  })

  // Found by a late joiner in the model test (seed 2) and on the namespace LAN: a joiner takes each
  // author's ops in turn, so a write can arrive before its file's create. It brings the file back as
  // a new node (r<seq>@<author>) that the file's id points at; undoing it for the create gave that
  // id the new node's inode number, and the database kept the other node id on that row (its
  // upsert kept a row's node): the tree read from disk lost the file's id, and a later commit that
  // wrote the new node elsewhere failed with UNIQUE constraint failed: inodes.node.
  it('gives a node its own inode number when a late joiner redoes its create under an edit that came first', async (t) => {
    const dir = await createTempDir(t, 'palm-joiner-')
    const signers = [testSigner(), testSigner(), testSigner()]
    const clock = logicalClock()
    const open = async (i: number): Promise<MetaStore> => {
      const s = createMetaStore({ path: join(dir, `d${i}.db`), deviceId: `dev-${i}`, ...signers[i], clock })
      await s.start()
      for (let j = 0; j < signers.length; j++) await s.trustAuthor(`dev-${j}`, signers[j].publicKey)
      return s
    }
    const [a, b] = [await open(0), await open(1)]
    let joiner = await open(2)
    onCleanup(t, async () => { await Promise.all([a, b, joiner].map(async s => { await s.stop() })) })
    const f = await b.create(ROOT_INO, 'f', FILE)
    await b.setContent(f.ino, { size: 4, stripeSize: 8, stripes: [stripe(0, 4, 'v1')] })
    await send(b, a)
    await a.setContent((await a.lookup(ROOT_INO, 'f'))!.ino, { size: 4, stripeSize: 8, stripes: [stripe(0, 4, 'v2')] })
    // The joiner pulls dev-0's ops, then dev-1's (older: undone and redone around them).
    for (const [from, author] of [[a, 'dev-0'], [b, 'dev-1']] as const) {
      const report = await joiner.applyRemote((await from.readOps(author, 0, 100)).map(o => ({ body: o.body, sig: o.sig })))
      assert.deepEqual(report.refused, [])
    }
    await send(a, b)
    await assertConverged([a, b, joiner])
    // Read from its database again, the joiner still knows f by its id: b's next edit lands in it.
    await joiner.stop()
    joiner = await open(2)
    await b.setContent(f.ino, { size: 4, stripeSize: 8, stripes: [stripe(0, 4, 'v3')] })
    await syncAll([a, b, joiner])
    const tree = await assertConverged([a, b, joiner])
    assert.deepEqual(tree.map(l => l.replace(/ file .*\[(.*)\] $/, ' [$1]')), ['/f [0:st-v3]'])
  })

  // Found by the model test (seed 23, about half of its runs): a write carried the name its file
  // still had (`at`) or none, depending on whether that name's create was committed yet, so a
  // seed's op log depended on commit timing.
  it('names a write by a name its file still has when the newest name was removed, committed or not', async (t) => {
    const [a] = await devices(t, 1)
    const d = await a.create(ROOT_INO, 'd', DIR)
    const f = await a.create(d.ino, 'f', FILE)
    await a.link(f.ino, ROOT_INO, 'g')
    await a.unlink(ROOT_INO, 'g')
    await a.setContent(f.ino, { size: 4, stripeSize: 8, stripes: [stripe(0, 4, 'v1')] })
    const ops = []
    for await (const op of a.exportOps()) ops.push(JSON.parse(op.body) as { kind: string, at?: string[] })
    assert.deepEqual(ops.find(o => o.kind === 'setContent')?.at, ['1@dev-0', 'f'])
  })
})

describe('replicated journal admission', () => {
  it('accepts a device admitted by a member, in the same batch too, and refuses one never admitted', async (t) => {
    const dir = await createTempDir(t, 'palm-admit-')
    const signers = [testSigner(), testSigner(), testSigner()]
    const [f, b, c] = await Promise.all(signers.map(async (sg, i) => {
      const s = createMetaStore({ path: join(dir, `d${i}.db`), deviceId: `dev-${i}`, ...sg })
      await s.start()
      onCleanup(t, async () => { await s.stop() })
      return s
    }))
    // Every device trusts the founder (as the swarm's invite says); the founder admits b only.
    await b.trustAuthor('dev-0', signers[0].publicKey)
    await c.trustAuthor('dev-0', signers[0].publicKey)
    await f.admit('dev-1', signers[1].publicKey)
    await f.admit('dev-1', signers[1].publicKey)
    const exported = async (s: MetaStore): Promise<Array<{ body: string, sig?: Uint8Array }>> => {
      const out = []
      for await (const op of s.exportOps()) out.push({ body: op.body, sig: op.sig })
      return out
    }
    assert.equal((await exported(f)).length, 1, 'admitting twice logs one op')
    await b.create(ROOT_INO, 'from-b', FILE)
    await c.create(ROOT_INO, 'from-c', FILE)
    // c gets the founder's admission and b's op in one batch, b's op first.
    const report = await c.applyRemote([...await exported(b), ...await exported(f)])
    assert.deepEqual(report.refused, [])
    assert.ok(await c.lookup(ROOT_INO, 'from-b'))
    // c was never admitted: its ops are refused by the founder, with the reason.
    const refused = await f.applyRemote(await exported(c).then(ops => ops.filter(o => o.body.includes('"author":"dev-2"'))))
    assert.equal(refused.refused.length, 1)
    assert.match(refused.refused[0].reason, /never admitted/)
    assert.equal(await f.lookup(ROOT_INO, 'from-c'), undefined)
    // A forged admission (signed by c for itself, claiming the founder's name) is refused.
    const forged = { body: (await exported(f))[0].body.replace('dev-1', 'dev-2'), sig: (await exported(f))[0].sig }
    const r2 = await b.applyRemote([forged])
    assert.match(r2.refused[0]?.reason ?? '', /untrusted|bad signature/)
  })
})

describe('undo compaction', () => {
  it('keeps the fragments of deleted versions for undo until compaction, then refuses ops older than the compaction point', async (t) => {
    const [a, b] = await devices(t, 2)
    const f = await b.create(ROOT_INO, 'late', FILE)
    void f
    const late: Array<{ body: string, sig?: Uint8Array }> = []
    for await (const op of b.exportOps()) late.push({ body: op.body, sig: op.sig })
    const g = await a.create(ROOT_INO, 'g', FILE)
    await a.setContent(g.ino, { size: 8, stripeSize: 8, stripes: [stripe(0, 8, 'old')] })
    await a.setContent(g.ino, { size: 8, stripeSize: 8, stripes: [stripe(0, 8, 'new')] })
    const live: string[] = []
    for await (const c of a.referencedFragments()) live.push(c)
    assert.deepEqual(live, ['cid-new'])
    const held: string[] = []
    for await (const c of a.heldFragments()) held.push(c)
    assert.ok(held.includes('cid-old'), held.join(','))
    // Nothing is provably stable yet: b has no op here and sent no vector.
    assert.equal(await a.compactUndo(), 0)
    // b's vector says it holds all 3 ops of a: b is past the newest, so the 2 before it are stable.
    assert.equal(await a.compactUndo({ vectors: new Map([['dev-1', new Map([['dev-0', 3]])]]) }), 2)
    const dropped = await a.compactUndo({ beforeHlc: BigInt(Date.now() + 60_000) * 1_000_000n })
    assert.equal(dropped, 1)
    const after: string[] = []
    for await (const c of a.heldFragments()) after.push(c)
    assert.deepEqual(after, [])
    // b's op is older than every op of a, whose undo records are gone: refused, with the reason.
    const report = await a.applyRemote(late)
    assert.equal(report.refused.length, 1)
    assert.match(report.refused[0].reason, /without undo records|undo/)
    assert.equal(await a.lookup(ROOT_INO, 'late'), undefined)
  })
})
