/**
 * Garbage collection against a merge that lands while it reads the journal (src/daemon/fragments.ts):
 * a version this device had overwritten (kept for its undo record) comes back as a conflict copy when
 * another device's concurrent write is merged. Found on the namespace LAN: read before the merge
 * (not live) and after it (no longer in an undo record the stable point keeps), the version was in
 * neither set and its fragments were collected right after a heal: a file in the tree nobody could read.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { PalmConfig } from '../../../src/config/defaults.js'
import type { DaemonParts } from '../../../src/daemon/daemon.js'
import { runGc } from '../../../src/daemon/fragments.js'
import { ROOT_INO, type MetaStore, type WireOp } from '../../../src/meta/types.js'
import { ForeignFragments } from '../../../src/place/foreign.js'
import { createFsStore } from '../../../src/store/index.js'
import { cidOf, parseCid } from '../../../src/util/cid.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'
import { devices, FILE, logicalClock, send } from '../meta/merge-helpers.js'

describe('garbage collection during a merge', () => {
  it('keeps a version that a merge committed while it read the journal turns into a conflict copy', async (t) => {
    const [a, b] = await devices(t, 2, logicalClock())
    const dir = await createTempDir(t, 'palm-gc-merge-')
    const store = createFsStore({ path: join(dir, 'fragments') })
    onCleanup(t, async () => { await store.stop() })
    await store.start()
    const foreign = new ForeignFragments({ path: join(dir, 'foreign-fragments.log') })
    await foreign.start()
    onCleanup(t, async () => { await foreign.stop() })
    /** A version of `size` bytes whose one fragment is in the store: its stripe ref. */
    const version = async (): Promise<{ size: number, stripeSize: number, stripes: Array<{ index: number, length: number, id: string, k: number, n: number, codecId: number, fragments: string[], holders: string[][] }> }> => {
      const bytes = new Uint8Array(randomBytes(64))
      const cid = cidOf(bytes)
      await store.put(cid, bytes)
      return { size: 8, stripeSize: 8, stripes: [{ index: 0, length: 8, id: `st-${cid.toString()}`, k: 1, n: 1, codecId: 1, fragments: [cid.toString()], holders: [] }] }
    }
    const f = await a.create(ROOT_INO, 'f', FILE)
    await send(a, b)
    const v1 = await version()
    await a.setContent(f.ino, v1)
    // b writes f without having seen v1, then a overwrites v1 (kept for v2's undo), then b writes
    // something later, so that once b's ops are here no undo record the merge leaves names v1.
    const fb = (await b.lookup(ROOT_INO, 'f'))!
    const vb = await version()
    await b.setContent(fb.ino, vb)
    await a.setContent(f.ino, await version())
    await b.create(ROOT_INO, 'later', FILE)
    const fromB: WireOp[] = []
    for await (const op of b.exportOps()) fromB.push({ body: op.body, sig: op.sig })
    // The merge lands between the two reads of the journal (live versions, then undo records).
    let merged = false
    const meta = new Proxy(a, {
      get (target, prop) {
        const v = Reflect.get(target, prop, target) as unknown
        if (prop !== 'referencedFragments') return typeof v === 'function' ? v.bind(target) : v
        return async function * (options?: { signal?: AbortSignal }): AsyncIterable<string> {
          yield * target.referencedFragments(options)
          if (!merged) { merged = true; assert.deepEqual((await target.applyRemote(fromB)).refused, []) }
        }
      }
    }) as MetaStore
    const parts = { meta, store, foreign } as unknown as DaemonParts
    const config = { gcGraceMs: 0, foreignGcGraceMs: 0 } as unknown as PalmConfig
    const r = await runGc(parts, config)
    assert.ok(merged)
    const names = (await a.readdir(ROOT_INO, 0, 100)).map(e => e.name)
    const copy = names.find(n => n.startsWith('f (conflict '))
    assert.ok(copy != null, names.join(', '))
    const ino = (await a.lookup(ROOT_INO, copy))!.ino
    assert.deepEqual((await a.getStripes(ino, 0, 1))[0].fragments, v1.stripes[0].fragments, 'the conflict copy is v1')
    assert.equal(await store.has(parseCid(v1.stripes[0].fragments[0])), true, `v1's fragment is still stored (gc: ${JSON.stringify(r)})`)
  })
})
