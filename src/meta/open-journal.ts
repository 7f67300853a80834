/**
 * Start-up of a journal after its connections are open and migrated: load the counters, the
 * per-author seqs and the clock from the database, create the root on a new journal, build the
 * single writer, and apply what the redo log of the last run holds beyond the database.
 */
import { basename } from 'node:path'
import { IntegrityError } from '../errors.js'
import type { Logger } from '../util/logger.js'
import type { CommittedCache } from './cache.js'
import { ROOT_NODE } from './constants.js'
import type { Counters } from './context.js'
import type { Db } from './db.js'
import { Hlc, systemClock } from './hlc.js'
import { bodyHash, decodeOp } from './op.js'
import { fetchKey, fetchKeys, fetchRange, readTail } from './reads.js'
import { inodeUpsertSql, type InodeRec } from './records.js'
import { damagedDir, recordDamage } from './damaged.js'
import type { RedoDamage, RedoLog, RedoOpened } from './redo.js'
import type { MetaStoreInit } from './sqlite-store.js'
import { sqlBlob, sqlText } from './sql.js'
import { ROOT_INO } from './types.js'
import { Writer, type WriterInit } from './writer.js'

/** What loading needs besides the two connections. */
export interface LoadContext {
  init: MetaStoreInit
  cache: CommittedCache
  log: Logger
  redo?: RedoLog
  earlyReplies: () => boolean
  /** The change feed's hook (WriterInit.onCommit). */
  onCommit?: WriterInit['onCommit']
}

/** Reads the journal's state and builds its writer (creating the root of a new journal). */
export async function loadJournal (db: Db, reader: Db, c: LoadContext): Promise<{ writer: Writer, hlc: Hlc }> {
  const { deviceId, publicKey } = c.init
  const clock = c.init.clock ?? systemClock()
  const st = await db.get<{ next_ino: number, next_cookie: number, files: number, dirs: number, bytes: number, ops: number }>('SELECT * FROM state WHERE id=1')
  if (st == null) throw new IntegrityError(`metadata journal ${db.path} has no state row: restore it from a backup or run \`palm fsck\``)
  const seqs = await db.all<{ author: string, seq: number }>('SELECT author, max(seq) AS seq FROM ops GROUP BY author')
  const last = await db.get<{ hlc: string, author: string, seq: number }>('SELECT CAST(hlc AS TEXT) AS hlc, author, seq FROM ops ORDER BY hlc DESC, author DESC, seq DESC LIMIT 1')
  // The next local op names the hash of this device's last one (`prev`, seal.ts).
  const mine = await db.get<{ body: string }>('SELECT body FROM ops WHERE author=? ORDER BY seq DESC LIMIT 1', [deviceId])
  const appliedHlc = BigInt(last?.hlc ?? '0')
  const floor = c.init.clockFloor ?? 0n
  const hlc = new Hlc(clock, floor > appliedHlc ? floor : appliedHlc)
  if (publicKey != null) await db.exec(`INSERT OR REPLACE INTO authors(author,public_key) VALUES(${sqlText(deviceId)},${sqlBlob(publicKey)})`)
  const counters: Counters = { nextIno: st.next_ino, nextCookie: st.next_cookie, files: st.files, dirs: st.dirs, bytes: st.bytes, ops: st.ops, appliedHlc }
  if (await db.get('SELECT ino FROM inodes WHERE ino=?', [ROOT_INO]) == null) {
    const now = clock()
    const root: InodeRec = {
      ino: ROOT_INO, node: ROOT_NODE, type: 'dir', mode: 0o755, uid: c.init.uid ?? 0, gid: c.init.gid ?? 0,
      nlink: 2, size: 0, rdev: 0, atimeNs: now, mtimeNs: now, ctimeNs: now, parent: ROOT_INO, entries: 0, stripeSize: 0
    }
    await db.execBatch(`${inodeUpsertSql(root)}UPDATE state SET dirs=dirs+1 WHERE id=1;`)
    counters.dirs += 1
  }
  const writer = new Writer({
    db,
    cache: c.cache,
    fetch: async (k) => await fetchKey(reader, k),
    fetchMany: async (keys) => await fetchKeys(reader, keys),
    fetchRange: async (k) => await fetchRange(reader, k),
    loadTail: async (k) => await readTail(reader, k),
    lastKey: last == null ? undefined : { hlc: appliedHlc, author: last.author, seq: last.seq },
    hlc,
    author: deviceId,
    sign: c.init.sign,
    signAsync: c.init.signAsync,
    counters,
    lastSeq: new Map(seqs.map(r => [r.author, r.seq])),
    lastHash: mine == null ? undefined : bodyHash(mine.body),
    log: c.log,
    redo: c.redo,
    earlyReplies: c.earlyReplies,
    onCommit: c.onCommit
  })
  return { writer, hlc }
}

/** What the start-up replay of the redo log did (for the log, `palm status` and tests). */
export interface RedoReplay {
  /** Ops applied from the log (the database lacked them). */
  applied: number
  /** Ops in the log that did not apply (after a damaged frame that held an op they follow). */
  notApplied: number
  /** Damaged spans found (bytes that are not frames). */
  damage: RedoDamage[]
  /** Where segments with damage or with ops that did not apply were moved (never deleted). */
  keptAt: string[]
  /** One sentence for people, when something was wrong. */
  problem?: string
}

/**
 * Applies the ops of the redo log that the database lacks (answered before a kill, not yet
 * committed), commits them, and deletes the old segments. Local ops are signed again, each one
 * (a seal each: an op with its own signature verifies alone, and a replay is rare). Valid frames after a damaged
 * one are applied too, when the ops before them are there; a segment with damage, or with ops
 * that did not apply, is moved aside into `damaged/`, and the event is noted there and logged.
 */
export async function replayRedo (writer: Writer, redo: RedoOpened, c: Pick<LoadContext, 'init' | 'log'>): Promise<RedoReplay> {
  const before = writer.committed.ops
  const failed = new Map<string, { count: number, first: unknown }>()
  await Promise.all(redo.records.map(async (rec) => {
    try {
      const op = decodeOp(rec.text)
      const bytes = Buffer.from(rec.text)
      const sig = rec.sig ?? (op.author === c.init.deviceId ? (c.init.sign?.(bytes) ?? await c.init.signAsync?.(bytes)) : undefined)
      await writer.replay({ op, body: rec.text, sig })
    } catch (err) {
      const key = rec.segment ?? ''
      const f = failed.get(key)
      if (f == null) failed.set(key, { count: 1, first: err })
      else f.count++
    }
  }))
  await writer.flush()
  const applied = writer.committed.ops - before
  if (applied > 0) c.log('applied %d ops from the redo log of the last run (answered before it stopped, not yet committed)', applied)
  const keep = new Set([...redo.damage.map(d => d.segment), ...failed.keys()].filter(s => s !== ''))
  const keptAt = await redo.log.clearLeftovers(keep)
  const notApplied = [...failed.values()].reduce((n, f) => n + f.count, 0)
  if (keep.size === 0) return { applied, notApplied, damage: redo.damage, keptAt }
  const first = [...failed.values()][0]?.first
  const problem = redoProblem(c.init.path, redo.damage, applied, notApplied, first, keptAt)
  c.log.error('%s', problem)
  await recordDamage(c.init.path, problem).catch((err: unknown) => { c.log.error('could not note the damage in %s: %e', damagedDir(c.init.path), err) })
  return { applied, notApplied, damage: redo.damage, keptAt, problem }
}

function redoProblem (path: string, damage: RedoDamage[], applied: number, notApplied: number, first: unknown, keptAt: string[]): string {
  const parts: string[] = []
  if (damage.length > 0) {
    const bytes = damage.reduce((n, d) => n + d.bytes, 0)
    const after = damage.reduce((n, d) => n + d.framesAfter, 0)
    parts.push(`the redo log of ${path} was damaged (${bytes} bytes in ${damage.length} places, at ${damage.map(d => `${basename(d.segment)}+${d.offset}`).join(', ')}); ${after} valid ops after the damage were read`)
  }
  parts.push(`${applied} ops were applied from it`)
  if (notApplied > 0) parts.push(`${notApplied} ops could not be applied and are lost from the tree (${first instanceof Error ? first.message : String(first)}); changes answered as done may be missing`)
  parts.push(`the segments are kept in ${keptAt.join(', ')}; \`palm fsck\` checks the tree`)
  return parts.join('; ')
}
