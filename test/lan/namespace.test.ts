/**
 * One folder on every device (root only; skipped otherwise): three real devices on the namespace
 * LAN, each with its own `palm mount`, 2-of-3. What one writes the others list and read
 * byte-exact; a partitioned device keeps working, and after the heal every device shows the same
 * tree with nothing lost (the losing edit as a conflict copy); the writing device destroyed, the
 * others still read everything it wrote.
 */
import '../../src/util/polyfill.js'
import { randomBytes } from 'node:crypto'
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { forceUnmount, palm, testEnv } from '../helpers/palm.js'
import { createTempDir } from '../helpers/tmp.js'
import { createLan, lanSkipReason, setLink } from './harness.js'
import { inviteCode, joinHome, joinHomes, lanEnv, statusOf, waitAllOnline } from './palm-devices.js'
import { startMount, writeSmallTree, type MountDevice } from './pool-devices.js'
import { modelOf, namesOf, namesOfModel, runRandomOps, type Model } from './random-ops.js'
import { diff, treeOf, until, xattrsOf } from './trees.js'
import { prng } from '../helpers/prng.js'

const skip = lanSkipReason()
const NAMES = ['na', 'nb', 'nc']
/** Joins late (after thousands of ops). */
const LATE = 'nd'

describe('one folder on every device (namespace LAN)', { skip }, () => {
  it('3 devices, each mounting, 2-of-3: replication, partition and merge, the writer destroyed', { timeout: 600_000 }, async (t) => {
    const lan = await createLan(t, { devices: [...NAMES, LATE] })
    const root = await createTempDir(t, 'palm-ns-lan-')
    // GC runs every second; other devices' fragments get 20 s for the ops naming them to arrive.
    const env = lanEnv(`_palm-${randomBytes(4).toString('hex')}._udp.local`, { PALM_REPAIR_GRACE: '5m', PALM_GC_INTERVAL: '1s', PALM_GC_GRACE: '5s', PALM_FOREIGN_GC_GRACE: '20s' })
    const homes = new Map<string, string>()
    homes.set('na', join(root, 'na'))
    const init = await palm(['init', '--home', join(root, 'na'), '--name', 'na', '--policy', '2-of-3'], { env: testEnv() })
    assert.equal(init.code, 0, init.stderr)
    for (const [n, home] of await joinHomes(t, lan, { name: 'na', home: join(root, 'na') }, root, NAMES.slice(1), env)) homes.set(n, home)
    const devs = new Map<string, MountDevice>()
    const start = async (n: string, extra: Record<string, string> = {}): Promise<MountDevice> => {
      const d = await startMount(t, lan, n, homes.get(n) ?? '', { ...env, ...extra }, join(root, `mnt-${n}`), join(process.env.PALM_LAN_LOG_DIR ?? root, `${n}${extra.PALM_CLOCK_OFFSET != null ? '-ahead' : ''}.log`))
      devs.set(n, d)
      return d
    }
    await Promise.all(NAMES.map(async n => await start(n)))
    const dev = (n: string): MountDevice => devs.get(n) as MountDevice
    const mnt = (n: string): string => dev(n).mountpoint
    await waitAllOnline([...devs.values()], 60_000)

    await t.test('a tree written on one is byte-exact on the others; close is visible on the others within 2 s, both directions', async () => {
      await mkdir(join(mnt('na'), 'tree'))
      await writeSmallTree(join(mnt('na'), 'tree'), 200)
      const want = await treeOf(mnt('na'))
      const ms = await until('the tree on nb and nc', 60_000, async () => [...diff(want, await treeOf(mnt('nb'))), ...diff(want, await treeOf(mnt('nc')))])
      t.diagnostic(`200 files written on na were byte-exact on nb and nc ${ms.toFixed(0)} ms after the last close`)
      const visible: number[] = []
      for (const [from, to] of [['na', 'nb'], ['nb', 'na'], ['nc', 'na'], ['nb', 'nc']]) {
        const bytes = randomBytes(10_000)
        const name = `hello-from-${from}-${visible.length}.bin`
        await writeFile(join(mnt(from), name), bytes)
        visible.push(await until(`${name} on ${to}`, 2000, async () => {
          const got = await readFile(join(mnt(to), name)).catch(() => undefined)
          return got != null && got.equals(bytes) ? [] : ['not there yet']
        }))
      }
      t.diagnostic(`close → visible on another device: ${visible.map(v => v.toFixed(0)).join(', ')} ms`)
    })

    await t.test('during a partition: crossed renames, concurrent edits, edit vs delete, two creates; after the heal every tree is identical and nothing is lost', async () => {
      for (const d of ['x', 'y']) await mkdir(join(mnt('na'), d))
      await writeFile(join(mnt('na'), 'edited.txt'), 'v0\n')
      await writeFile(join(mnt('na'), 'deleted.txt'), 'd0\n')
      const base = await treeOf(mnt('na'))
      await until('the base tree everywhere', 30_000, async () => [...diff(base, await treeOf(mnt('nb'))), ...diff(base, await treeOf(mnt('nc')))])

      await setLink(lan, 'nc', false)
      // na (with nb) and nc change the same things.
      await rename(join(mnt('na'), 'x'), join(mnt('na'), 'y', 'x'))
      await rename(join(mnt('nc'), 'y'), join(mnt('nc'), 'x', 'y'))
      await writeFile(join(mnt('na'), 'edited.txt'), 'edit from na\n')
      await new Promise(resolve => setTimeout(resolve, 20))
      await writeFile(join(mnt('nc'), 'edited.txt'), 'edit from nc, the later one\n')
      await unlink(join(mnt('na'), 'deleted.txt'))
      await writeFile(join(mnt('nc'), 'deleted.txt'), 'edited while deleted elsewhere\n')
      await writeFile(join(mnt('na'), 'same-name.txt'), 'created on na\n')
      await writeFile(join(mnt('nc'), 'same-name.txt'), 'created on nc\n')
      await setLink(lan, 'nc', true)

      const healed = await until('identical trees after the heal', 90_000, async () => {
        const [a, b, c] = await Promise.all(NAMES.map(async n => await treeOf(mnt(n))))
        return [...diff(a, b), ...diff(a, c)]
      })
      t.diagnostic(`trees identical ${healed.toFixed(0)} ms after the heal`)
      const tree = await treeOf(mnt('nb'))
      const names = [...tree.keys()]
      // No cycle, no lost subtree: both directories are there, one inside the other.
      assert.equal(names.filter(n => /(^|\/)x$/.test(n) || /(^|\/)y$/.test(n)).length, 2, names.join('\n'))
      // Both edits: the later keeps the name, the other is a conflict copy.
      const edited = await readFile(join(mnt('nb'), 'edited.txt'), 'utf8')
      assert.equal(edited, 'edit from nc, the later one\n')
      const copies = names.filter(n => n.startsWith('edited.txt (conflict '))
      assert.equal(copies.length, 1, names.join('\n'))
      assert.equal(await readFile(join(mnt('nb'), copies[0]), 'utf8'), 'edit from na\n')
      // Edit vs delete: the edit survives, as one file (its truncate and its write both land on it).
      assert.equal(await readFile(join(mnt('nb'), 'deleted.txt'), 'utf8'), 'edited while deleted elsewhere\n')
      assert.deepEqual(names.filter(n => n.startsWith('deleted.txt')), ['deleted.txt'], names.join('\n'))
      // Two creates of one name: both files.
      const same = names.filter(n => n.startsWith('same-name.txt'))
      assert.equal(same.length, 2, names.join('\n'))
      const texts = await Promise.all(same.map(async n => await readFile(join(mnt('nb'), n), 'utf8')))
      assert.deepEqual(texts.sort(), ['created on na\n', 'created on nc\n'])
    })

    await t.test('seeded random ops on every device, with random partitions and heals: one tree and the same xattrs everywhere, each device\'s names as POSIX says, nothing invented', async () => {
      const seed = Number(process.env.PALM_DIFF_SEED ?? Math.floor(Math.random() * 2 ** 31))
      const epochs = Number(process.env.PALM_DIFF_EPOCHS ?? 7)
      const opsPerDevice = Number(process.env.PALM_DIFF_OPS ?? 120)
      t.diagnostic(`seed ${seed} (PALM_DIFF_SEED=${seed} replays it)`)
      const rand = prng(seed)
      const at = (n: string): string => join(mnt(n), 'rand')
      await mkdir(at('na'))
      const written = new Set<string>()
      const converged = async (): Promise<Map<string, string>> => {
        let tree = new Map<string, string>()
        await until(`one tree in rand/ on every device (seed ${seed})`, 120_000, async () => {
          const [a, b, c] = await Promise.all(NAMES.map(async n => await treeOf(at(n))))
          const [xa, xb, xc] = await Promise.all(NAMES.map(async n => await xattrsOf(at(n))))
          tree = a
          return [...diff(a, b), ...diff(a, c), ...diff(xa, xb), ...diff(xa, xc)]
        })
        return tree
      }
      let tree = await converged()
      let total = 0
      for (let e = 0; e < epochs; e++) {
        // All three cut off from each other, or one cut off while the other two stay together; in
        // both cases the devices that act are in different partitions (the third, if any, only listens).
        const alone = rand() < 0.5
        const cut = alone ? [...NAMES] : [NAMES[Math.floor(rand() * 3)]]
        const acting = alone ? [...NAMES] : [cut[0], NAMES.filter(n => n !== cut[0])[Math.floor(rand() * 2)]]
        t.diagnostic(`epoch ${e}: ${cut.join(', ')} cut off; ${acting.join(', ')} act`)
        const models = new Map<string, Model>()
        for (const n of acting) models.set(n, await modelOf(at(n), tree))
        for (const n of cut) await setLink(lan, n, false)
        const seeds = acting.map(() => Math.floor(rand() * 2 ** 31))
        const mine = new Map(acting.map(n => [n, new Set<string>()]))
        const runs = await Promise.all(acting.map(async (n, i) => await runRandomOps(at(n), models.get(n) as Model, opsPerDevice, prng(seeds[i]), `${n}-e${e}`, mine.get(n) as Set<string>)))
        for (const hashes of mine.values()) for (const h of hashes) written.add(h)
        total += runs.reduce((sum, r) => sum + r.applied + r.refused, 0)
        // While cut off, each acting device sees exactly what POSIX says its own ops made.
        for (const n of acting) assert.deepEqual(diff(namesOfModel(models.get(n) as Model), await namesOf(at(n))), [], `${n}'s names in epoch ${e} (seed ${seed})`)
        for (const n of cut) {
          await setLink(lan, n, true)
          await new Promise(resolve => setTimeout(resolve, Math.floor(rand() * 500)))
        }
        tree = await converged()
        // PALM_DIFF_TRACE=DIR also keeps each device's journal after each heal (DIR/eN-NAME.db), to read a failing seed.
        const traceDir = process.env.PALM_DIFF_TRACE
        if (traceDir != null) {
          for (const n of NAMES) {
            for (const x of ['', '-wal']) await copyFile(join(homes.get(n) ?? '', `journal.db${x}`), join(traceDir, `e${e}-${n}.db${x}`)).catch(() => {})
          }
        }
        const have = new Set(tree.values())
        for (const n of acting) {
          // What it wrote in this epoch, nobody else saw: no merge rule may drop it. (What it held
          // from before, the others saw too: they may overwrite or delete it.)
          const ours = mine.get(n) as Set<string>
          // test/unit/meta/merge-model.test.ts runs the same check on many seeds in seconds.
          const lost = [...(models.get(n) as Model)].filter(([, node]) => node.type === 'file' && ours.has(node.hash ?? '') && !have.has(node.hash ?? ''))
          assert.deepEqual(lost.map(([p]) => p), [], `what ${n} wrote unseen in epoch ${e} is in the merged tree (seed ${seed}); the merged tree:\n${[...tree].map(([p, h]) => `${p} ${h.slice(0, 8)}`).join('\n')}`)
        }
        const invented = [...tree].filter(([, h]) => h !== 'dir' && !written.has(h))
        assert.deepEqual(invented.map(([p, h]) => `${p} ${h.slice(0, 8)}`), [], `every file in the merged tree is a version some device wrote (seed ${seed})`)
      }
      t.diagnostic(`${total} random ops in ${epochs} epochs; ${tree.size} entries in the merged tree`)
      assert.ok(total >= 1500, `${total} ops`)
    })

    await t.test('kill -9 of a device mid-sync: it restarts and converges', async () => {
      await mkdir(join(mnt('na'), 'burst'))
      const writing = writeSmallTree(join(mnt('na'), 'burst'), 300)
      await until('nb mid-sync', 60_000, async () => (await readdir(join(mnt('nb'), 'burst')).catch(() => [])).length > 0 ? [] : ['nothing yet'])
      await dev('nb').proc.kill('SIGKILL')
      await writing
      // A killed FUSE server leaves a stale mount: recover it (abort + lazy unmount) as palm would.
      await forceUnmount(mnt('nb'))
      await start('nb')
      await waitAllOnline([...devs.values()], 60_000)
      const want = await treeOf(mnt('na'))
      const ms = await until('nb converged after its restart', 60_000, async () => diff(want, await treeOf(mnt('nb'))))
      t.diagnostic(`nb converged ${ms.toFixed(0)} ms after its restart`)
    })

    await t.test('a device whose clock is an hour ahead: trees converge, nothing is lost, and causal order holds', async () => {
      await dev('nc').proc.kill('SIGTERM')
      await start('nc', { PALM_CLOCK_OFFSET: '1h' })
      await waitAllOnline([...devs.values()], 60_000)
      await writeFile(join(mnt('nc'), 'ahead.txt'), 'written an hour ahead\n')
      await until('ahead.txt on na', 10_000, async () => (await readFile(join(mnt('na'), 'ahead.txt'), 'utf8').catch(() => '')) === 'written an hour ahead\n' ? [] : ['not yet'])
      // na saw nc's version: its edit comes after it in the total order (its clock follows nc's).
      await writeFile(join(mnt('na'), 'ahead.txt'), 'edited on na after reading it\n')
      await writeFile(join(mnt('nb'), 'from-nb-meanwhile.txt'), 'nb\n')
      const ms = await until('identical trees with a clock an hour ahead', 60_000, async () => {
        const [a, b, c] = await Promise.all(NAMES.map(async n => await treeOf(mnt(n))))
        return [...diff(a, b), ...diff(a, c)]
      })
      t.diagnostic(`converged ${ms.toFixed(0)} ms after the edits`)
      const names = [...(await treeOf(mnt('nc'))).keys()]
      assert.equal(await readFile(join(mnt('nc'), 'ahead.txt'), 'utf8'), 'edited on na after reading it\n')
      assert.deepEqual(names.filter(n => n.startsWith('ahead.txt (conflict')), [], 'an edit made after reading is not a conflict')
      assert.ok(names.includes('from-nb-meanwhile.txt'))
    })

    await t.test('deleting files frees their fragments on every holder (after the GC grace)', async () => {
      const counts = async (): Promise<number[]> => await Promise.all(NAMES.map(async n => (await statusOf(dev(n))).fragments))
      const before = await counts()
      await rm(join(mnt('na'), 'burst'), { recursive: true })
      const ms = await until('fragments freed on every holder', 120_000, async () => {
        const now = await counts()
        return now.every((c, i) => c < before[i] - 200) ? [] : [`fragments ${now.join('/')} (were ${before.join('/')})`]
      })
      t.diagnostic(`fragments per device ${before.join('/')} → ${(await counts()).join('/')} within ${ms.toFixed(0)} ms`)
    })

    await t.test('a device that joins after thousands of ops gets the whole tree', async () => {
      homes.set(LATE, await joinHome(lan, root, LATE, await inviteCode(homes.get('na') ?? '')))
      await start(LATE)
      const want = await treeOf(mnt('nb'))
      const ms = await until(`the tree on ${LATE}`, 120_000, async () => diff(want, await treeOf(mnt(LATE))))
      const ops = (await statusOf(dev('nb'))).replication?.opsHeld ?? 0
      assert.ok(ops > 1000, `only ${ops} ops`)
      t.diagnostic(`${LATE} joined and showed the whole tree (${ops} ops) in ${ms.toFixed(0)} ms`)
      // Its own writes reach the others: its clock started at the inviter's, which follows nc's
      // clock an hour ahead, so its first ops do not land before the point they compacted.
      await writeFile(join(mnt(LATE), 'from-the-joiner.txt'), 'written on the late joiner\n')
      await until(`${LATE}'s file on nb`, 30_000, async () => (await readFile(join(mnt('nb'), 'from-the-joiner.txt'), 'utf8').catch(() => '')) === 'written on the late joiner\n' ? [] : ['not yet'])
    })

    await t.test('the writing device destroyed (kill -9, home deleted): the others list and read everything it wrote', async () => {
      await mkdir(join(mnt('na'), 'last'))
      const sums = await writeSmallTree(join(mnt('na'), 'last'), 50)
      const want = await treeOf(mnt('na'))
      await until('na\'s writes on nb, nc and nd', 60_000, async () => [...diff(want, await treeOf(mnt('nb'))), ...diff(want, await treeOf(mnt('nc'))), ...diff(want, await treeOf(mnt(LATE)))])
      await dev('na').proc.kill('SIGKILL')
      await rm(homes.get('na') ?? '', { recursive: true, force: true })
      for (const n of ['nb', 'nc', LATE]) {
        assert.deepEqual(diff(want, await treeOf(mnt(n))), [], `${n} after na was destroyed`)
        for (const [path] of sums) assert.ok((await stat(join(mnt(n), relative(mnt('na'), path)))).isFile())
      }
    })
  })
})
