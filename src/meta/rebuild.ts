/**
 * Rebuilding a damaged journal from its op log (`palm fsck --repair`). The op log is the truth and
 * the tables the VFS reads are derived from it (docs/journal.md), so a journal whose materialised
 * tables are damaged is rebuilt by applying its ops, in (hlc, author, seq) order, to a new journal
 * through the same path as the redo log's replay. Ops of an author with a known key must be sealed
 * (seal.ts): signed, or vouched for by a later signed op through the chain of `prev` hashes.
 * The damaged database (and its -wal/-shm) is then moved into `damaged/` (never deleted) and the
 * new one takes its place; the redo log is left where it is, and the next start applies from it
 * what the op log lacked.
 */
import { rename, rm, stat } from 'node:fs/promises'
import { JournalDamagedError } from '../errors.js'
import { damagedDir, moveAside, recordDamage } from './damaged.js'
import { Db } from './db.js'
import type { SignedOp } from './op.js'
import { LogCheck } from './seal.js'
import { readOps } from './reads.js'
import { SqliteMetaStore, type MetaStoreInit } from './sqlite-store.js'
import type { Writer } from './writer.js'
import { signingKey } from './author-key.js'

/** Ops handed to the writer before waiting for their commits. */
const REPLAY_WINDOW = 512

/** What applying an op log did. */
export interface OpLogReplay {
  /** Ops read from the log. */
  read: number
  /** Ops applied. */
  applied: number
  /** Ops that failed their signature or did not apply (with the first reason). */
  rejected: number
  firstReason?: string
}

/**
 * Applies the ops `read` yields, in order, through the writer's replay path; the writer's journal
 * must be new. `read` is called twice: a first pass checks the seals of every author with a known
 * key (seal.ts: an op is vouched for by a later one), the second applies the ops that passed.
 */
export async function replayOpLog (writer: Writer, read: () => AsyncIterable<SignedOp>, keys: ReadonlyMap<string, Uint8Array>): Promise<OpLogReplay> {
  const out: OpLogReplay = { read: 0, applied: 0, rejected: 0 }
  const reject = (reason: string): void => { out.rejected++; out.firstReason ??= reason }
  // Ops that fail their seal: a few (a damaged log), so a set of their keys is small.
  const refused = new Set<string>()
  const chains = new LogCheck(keys, {
    good: () => {},
    bad: (op, reason) => { refused.add(`${op.op.seq}@${op.op.author}`); reject(`op ${op.op.seq}@${op.op.author} ${reason}`) },
    unsealed: (run) => { for (const op of run) { refused.add(`${op.op.seq}@${op.op.author}`); reject(`op ${op.op.seq}@${op.op.author} is not sealed (no signed op after it vouches for it)`) } }
  })
  for await (const op of read()) chains.add(op)
  chains.end()
  let window: Array<Promise<void>> = []
  const before = writer.committed.ops
  for await (const op of read()) {
    out.read++
    if (refused.has(`${op.op.seq}@${op.op.author}`)) continue
    window.push(writer.replay(op).then(() => {}, (err: unknown) => { reject(err instanceof Error ? err.message : String(err)) }))
    if (window.length >= REPLAY_WINDOW) { await Promise.all(window); window = [] }
  }
  await Promise.all(window)
  await writer.flush()
  out.applied = writer.committed.ops - before
  return out
}

/** What `rebuildJournal` did. */
export interface JournalRebuild extends OpLogReplay {
  /** Where the damaged database and its companions were moved. */
  keptAt: string[]
}

/**
 * Rebuilds the journal at `init.path` from its op log. Refuses (changing nothing) when the op log
 * itself cannot be read whole. Call only while no process has the journal open.
 */
export async function rebuildJournal (init: MetaStoreInit): Promise<JournalRebuild> {
  const path = init.path
  const fresh = `${path}.rebuild`
  await removeJournalFiles(fresh)
  const old = await Db.open(path, true)
  let result: OpLogReplay
  const store = new SqliteMetaStore({ ...init, path: fresh })
  try {
    let keys = new Map<string, Uint8Array>()
    try {
      // A removed device's ops before its removal verify with the key its tombstone keeps; the
      // replayed removeDevice op makes the tombstone again.
      keys = new Map((await old.all<{ author: string, public_key: Buffer }>('SELECT author, public_key FROM authors'))
        .flatMap(r => { const k = signingKey(new Uint8Array(r.public_key)); return k == null ? [] : [[r.author, k] as [string, Uint8Array]] }))
    } catch {
      // The keys are checked where known; a damaged key table leaves the ops unchecked, as fsck does.
    }
    await store.start()
    for (const [author, key] of keys) if (author !== init.deviceId) await store.trustAuthor(author, key)
    let read = 0
    const counted = async function * (): AsyncGenerator<SignedOp> { read = 0; for await (const op of readOps(old)) { read++; yield op } }
    try {
      result = await store.replayOpLog(counted, keys)
    } catch (err) {
      throw new JournalDamagedError(`the op log of metadata journal ${path} is damaged too (read ${read} ops before: ${err instanceof Error ? err.message : String(err)}): it cannot be rebuilt here; nothing was changed. Replace it with a fresh copy from another device`, { cause: err, details: { path } })
    }
  } catch (err) {
    await store.stop().catch(() => {})
    await old.close().catch(() => {})
    await removeJournalFiles(fresh)
    throw err
  }
  await store.stop()
  await old.close()
  const keptAt: string[] = []
  const now = new Date()
  // The -shm file is an index SQLite rebuilds; an empty -wal holds nothing: neither is kept.
  await rm(`${path}-shm`, { force: true })
  if ((await stat(`${path}-wal`).catch(() => undefined))?.size === 0) await rm(`${path}-wal`, { force: true })
  for (const f of [path, `${path}-wal`]) {
    const to = await moveAside(f, path, now)
    if (to != null) keptAt.push(to)
  }
  await rename(fresh, path)
  await recordDamage(path, `metadata journal ${path} was damaged; fsck --repair rebuilt it from its op log: ${result.applied} of ${result.read} ops applied${result.rejected > 0 ? `, ${result.rejected} rejected (${result.firstReason ?? ''})` : ''}; the damaged copy is kept in ${keptAt.join(', ') || damagedDir(path)}`, now)
  return { ...result, keptAt }
}

async function removeJournalFiles (path: string): Promise<void> {
  for (const f of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) await rm(f, { force: true })
}
