/** Journals that trust each other, and what the merge tests do with them (send, sync, compare). */
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import type { MetaStore, NodeInit, StripeRef, WireOp } from '../../../src/meta/types.js'
import { dumpTree } from '../../compliance/meta-store-tests.js'
import { sendOps, trustingJournals } from '../../helpers/journals.js'

export const FILE: NodeInit = { type: 'file', mode: 0o644, uid: 0, gid: 0 }
export const DIR: NodeInit = { type: 'dir', mode: 0o755, uid: 0, gid: 0 }

export function stripe (index: number, length: number, tag: string): StripeRef {
  return { index, length, id: `st-${tag}`, k: 1, n: 1, codecId: 1, fragments: [`cid-${tag}`], holders: [] }
}

/** A clock shared by journals that advances 1 µs per reading (from `start` ns, or now): ops get stamps in the order they are made, every run alike. */
export function logicalClock (start?: bigint): () => bigint {
  let now = start ?? BigInt(Date.now()) * 1_000_000n
  return () => { now += 1000n; return now }
}

/** `count` journals that trust each other's keys (on `clock`, if given: see logicalClock). */
export async function devices (t: TestContext, count: number, clock?: () => bigint): Promise<MetaStore[]> {
  return await trustingJournals(t, count, 'palm-merge-', clock)
}

export const send = sendOps

/** Every store gets every op the others hold (only what it lacks, as a pull does). */
export async function syncAll (stores: MetaStore[]): Promise<void> {
  for (const a of stores) for (const b of stores) if (a !== b) await catchUp(a, b, 1000)
}

/** One tree on every store (returned), and a clean check() of each unless `check` is false (it verifies every op's signature). */
export async function assertConverged (stores: MetaStore[], check = true): Promise<string[]> {
  const trees = await Promise.all(stores.map(async s => await dumpTree(s)))
  for (let i = 1; i < trees.length; i++) assert.deepEqual(trees[i], trees[0], `device ${i} differs from device 0`)
  if (check) for (const s of stores) assert.deepEqual((await s.check()).problems, [])
  return trees[0]
}

/**
 * What a device that joins late does (net/journal-sync.ts pulls): `to` takes every op `from` holds
 * that it lacks, author by author in seq order, `batch` ops per applyRemote; none may be refused.
 */
export async function catchUp (from: MetaStore, to: MetaStore, batch: number): Promise<void> {
  for (;;) {
    const have = await to.versionVector()
    const ops: WireOp[] = []
    for (const author of (await from.versionVector()).keys()) {
      if (ops.length >= batch) break
      for (const op of await from.readOps(author, have.get(author) ?? 0, batch - ops.length)) ops.push({ body: op.body, sig: op.sig })
    }
    if (ops.length === 0) return
    const report = await to.applyRemote(ops)
    assert.deepEqual(report.refused, [], 'a catching-up device refuses no op')
  }
}
