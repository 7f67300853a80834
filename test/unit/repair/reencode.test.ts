/**
 * Re-encoding after a policy change, with real parts: a real SQLite journal, three real PALM nodes
 * on loopback (libp2p, memory stores) and the pool's real read and write paths (pool-rig.ts).
 * Files written at 2-of-3, then their folder set to 1-of-2: every stripe below it ends at 1-of-2
 * (a subfolder with its own policy and a file outside keep theirs, untouched), reads back
 * byte-exact within the bandwidth budget, keeps its size and mtime, records the new policy on the file (what its rewrites use),
 * and GC then frees every fragment of the old stripes.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import pWaitFor from 'p-wait-for'
import { CID } from 'multiformats/cid'
import { ROOT_INO, type MetaStore, type NodeInit, type StripeRef } from '../../../src/meta/types.js'
import type { StripePolicy } from '../../../src/place/index.js'
import { createReencoder } from '../../../src/repair/index.js'
import { reencodeBytes } from '../../../src/repair/reencode-plan.js'
import { collectGarbage } from '../../../src/store/index.js'
import { trustingJournals } from '../../helpers/journals.js'
import { onCleanup } from '../../helpers/tmp.js'
import { captureLogger, createPoolRig, type PoolRig } from '../place/pool-rig.js'

const FILE: NodeInit = { type: 'file', mode: 0o644, uid: 0, gid: 0 }
const DIR: NodeInit = { type: 'dir', mode: 0o755, uid: 0, gid: 0 }
const STRIPE_SIZE = 64 * 1024
const OLD: StripePolicy = { k: 2, n: 3 }

/** Writes `data` as a file `name` in `parent` through the pool at `policy`; returns its inode. */
async function writeFile (meta: MetaStore, rig: PoolRig, parent: number, name: string, data: Uint8Array, policy: StripePolicy): Promise<number> {
  const { ino } = await meta.create(parent, name, FILE)
  const stripes: StripeRef[] = []
  for (let index = 0; index * STRIPE_SIZE < data.length; index++) {
    const placed = await rig.io.write(data.subarray(index * STRIPE_SIZE, (index + 1) * STRIPE_SIZE), policy)
    stripes.push({ index, ...placed })
  }
  await meta.setContent(ino, { size: data.length, stripeSize: STRIPE_SIZE, stripes })
  return ino
}

async function stripesOf (meta: MetaStore, ino: number): Promise<StripeRef[]> {
  return await meta.getStripes(ino, 0, 1 << 20)
}

async function readBack (meta: MetaStore, rig: PoolRig, ino: number): Promise<Buffer> {
  const parts = []
  for (const s of await stripesOf(meta, ino)) parts.push(await rig.io.read(s))
  return Buffer.concat(parts)
}

describe('re-encoding after a policy change', () => {
  it('brings a folder written at 2-of-3 to 1-of-2: byte-exact, same size and mtime, old fragments collected', async (t) => {
    const rig = await createPoolRig(t, { devices: 3, spreader: false })
    const [meta] = await trustingJournals(t, 1, 'palm-reencode-pool-')
    const d = await meta.create(ROOT_INO, 'd', DIR)
    const sub = await meta.create(d.ino, 'sub', DIR)
    await meta.setxattr(sub.ino, 'user.palm.policy', new TextEncoder().encode('2-of-3'))
    const contents = new Map<number, Buffer>()
    const inFolder: number[] = []
    for (const [parent, name, bytes] of [[d.ino, 'big', 3 * STRIPE_SIZE - 1000], [d.ino, 'small', 100], [d.ino, 'one', STRIPE_SIZE], [sub.ino, 'kept', 5000], [ROOT_INO, 'outside', 5000]] as const) {
      const data = randomBytes(bytes)
      const ino = await writeFile(meta, rig, parent, name, data, OLD)
      contents.set(ino, data)
      if (parent === d.ino) inFolder.push(ino)
    }
    const attrsBefore = new Map(await Promise.all([...contents.keys()].map(async ino => [ino, await meta.getattr(ino)] as const)))
    const oldFragments = new Set<string>()
    const costs: number[] = []
    for (const ino of inFolder) {
      for (const s of await stripesOf(meta, ino)) {
        for (const f of s.fragments) oldFragments.add(f)
        costs.push(reencodeBytes(s, { k: 1, n: 2 }))
      }
    }

    // The budget: every stripe's bytes (fetched + stored) are reserved before it starts.
    const bytesPerSecond = 512 * 1024
    const reencoder = createReencoder({ surveyIntervalMs: 0, bytesPerSecond }, {
      meta, stripes: rig.io, policy: OLD, online: () => [rig.id(0)], deviceId: rig.id(0), logger: captureLogger(rig.logs)
    })
    await reencoder.start()
    onCleanup(t, async () => { await reencoder.stop() })
    // The folder's policy changes: the change feed starts a walk of its subtree.
    const started = performance.now()
    await meta.setxattr(d.ino, 'user.palm.policy', new TextEncoder().encode('1-of-2'))
    const atNew = async (): Promise<boolean> => {
      for (const ino of inFolder) if ((await stripesOf(meta, ino)).some(s => s.k !== 1 || s.n !== 2)) return false
      return true
    }
    await pWaitFor(atNew, { timeout: 20_000, interval: 50 }).catch(() => { assert.fail(`stripes not re-encoded in 20 s; log:\n${rig.logs.join('\n')}`) })
    const elapsedMs = performance.now() - started
    // The last stripe starts only once the others' bytes fit the budget (a floor, whatever the load).
    const floorMs = (costs.reduce((a, b) => a + b, 0) - Math.max(...costs)) / bytesPerSecond * 1000
    assert.ok(elapsedMs >= floorMs, `re-encoded in ${Math.round(elapsedMs)} ms, faster than the budget allows (${Math.round(floorMs)} ms)`)
    t.diagnostic(`${costs.length} stripes re-encoded in ${Math.round(elapsedMs)} ms (budget floor ${Math.round(floorMs)} ms)`)
    await pWaitFor(() => reencoder.status().stripesWaiting === 0, { timeout: 5000, interval: 20 })
    const status = reencoder.status()
    assert.equal(status.stripesReencoded, 5, 'big: 3 stripes, small: 1, one: 1')
    assert.equal(status.reencodeFailures, 0)

    for (const [ino, data] of contents) {
      const stripes = await stripesOf(meta, ino)
      const expected = inFolder.includes(ino) ? { k: 1, n: 2 } : OLD
      for (const s of stripes) {
        assert.deepEqual({ k: s.k, n: s.n }, expected, `inode ${ino} stripe ${s.index}`)
        assert.equal(new Set(s.holders.map(h => h[0])).size, s.n, `inode ${ino} stripe ${s.index}: one fragment per device`)
      }
      assert.ok((await readBack(meta, rig, ino)).equals(data), `inode ${ino} reads back byte-exact`)
      const before = attrsBefore.get(ino)
      const after = await meta.getattr(ino)
      assert.deepEqual([after.size, after.mtimeNs], [before?.size, before?.mtimeNs], `inode ${ino}: size and mtime stay`)
      // The file's own record (what its rewrites use) follows the folder; nothing else is touched.
      const record = await meta.getxattr(ino, 'user.palm.policy')
      if (inFolder.includes(ino)) assert.equal(new TextDecoder().decode(record), '1-of-2', `inode ${ino}: its record follows the folder`)
      else assert.deepEqual([record, after.ctimeNs], [undefined, before?.ctimeNs], `inode ${ino}: untouched`)
    }

    // The old stripes' fragments are referenced by nothing now: GC frees them on every device
    // (undo records no late op can need are dropped first, as `palm gc` does).
    await meta.compactUndo({ beforeHlc: 2n ** 62n })
    const referenced = new Set<string>()
    for await (const cid of meta.referencedFragments()) referenced.add(cid)
    for await (const cid of meta.heldFragments()) referenced.add(cid)
    for (const f of oldFragments) assert.ok(!referenced.has(f), 'no old fragment is referenced')
    await new Promise(resolve => setTimeout(resolve, 5))
    for (let i = 0; i < 3; i++) await collectGarbage(rig.store(i), { referenced, graceMs: 0 })
    for (const f of oldFragments) {
      for (let i = 0; i < 3; i++) assert.equal(await rig.store(i).has(CID.parse(f)), false, `old fragment ${f} freed on device ${i}`)
    }
    for (const ino of contents.keys()) assert.ok((await readBack(meta, rig, ino)).equals(contents.get(ino) as Buffer), 'still byte-exact after GC')
  })
})
