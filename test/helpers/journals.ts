/**
 * Several real SQLite journals on files, each signing its own ops and trusting the others' keys,
 * and replication between them as the network would do it (the signed bytes only). For merge and
 * op tests of src/meta.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { createMetaStore } from '../../src/meta/index.js'
import type { MetaStore } from '../../src/meta/types.js'
import { testSigner } from '../compliance/meta-store-tests.js'
import { createTempDir, onCleanup } from './tmp.js'

/** `count` journals (device ids `dev-0`, `dev-1`, …) that trust each other's keys, on `clock` if given; stopped after the test. */
export async function trustingJournals (t: TestContext, count: number, prefix = 'palm-journals-', clock?: () => bigint): Promise<MetaStore[]> {
  const dir = await createTempDir(t, prefix)
  const signers = Array.from({ length: count }, () => testSigner())
  const stores: MetaStore[] = []
  for (let i = 0; i < count; i++) {
    const s = createMetaStore({ path: join(dir, `d${i}.db`), deviceId: `dev-${i}`, ...signers[i], ...(clock != null ? { clock } : {}) })
    await s.start()
    onCleanup(t, async () => { await s.stop() })
    stores.push(s)
  }
  for (const s of stores) {
    for (let j = 0; j < count; j++) await s.trustAuthor(`dev-${j}`, signers[j].publicKey)
  }
  return stores
}

/** Sends every op `from` has to `to` (as replication would: the signed bytes only); none may be refused. */
export async function sendOps (from: MetaStore, to: MetaStore): Promise<void> {
  const ops = []
  for await (const op of from.exportOps()) ops.push({ body: op.body, sig: op.sig })
  const report = await to.applyRemote(ops)
  assert.deepEqual(report.refused, [])
}
