/**
 * Start-up of a journal after its connections are open and migrated: load the counters, the
 * per-author seqs and the clock from the database, create the root on a new journal, build the
 * single writer, and apply what the redo log of the last run holds beyond the database.
 */
import { IntegrityError } from '../errors.js'
import type { Logger } from '../util/logger.js'
import type { CommittedCache } from './cache.js'
import { ROOT_NODE } from './constants.js'
import type { Counters } from './context.js'
import type { Db } from './db.js'
import { Hlc, systemClock } from './hlc.js'
import { decodeOp } from './op.js'
import { fetchKey } from './reads.js'
import { inodeUpsertSql, type InodeRec } from './records.js'
import type { RedoLog, RedoRecord } from './redo.js'
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
  /** Called after each committed batch (the feed of local ops). */
  onCommitted?: WriterInit['onCommitted']
}

/** Reads the journal's state and builds its writer (creating the root of a new journal). */
export async function loadJournal (db: Db, reader: Db, c: LoadContext): Promise<{ writer: Writer, hlc: Hlc }> {
  const { deviceId, publicKey } = c.init
  const clock = c.init.clock ?? systemClock()
  const st = await db.get<{ next_ino: number, next_cookie: number, files: number, dirs: number, bytes: number, ops: number }>('SELECT * FROM state WHERE id=1')
  if (st == null) throw new IntegrityError(`metadata journal ${db.path} has no state row: restore it from a backup or run \`palm fsck\``)
  const seqs = await db.all<{ author: string, seq: number }>('SELECT author, max(seq) AS seq FROM ops GROUP BY author')
  const last = await db.get<{ hlc: string | null }>('SELECT CAST(max(hlc) AS TEXT) AS hlc FROM ops')
  const appliedHlc = BigInt(last?.hlc ?? '0')
  const hlc = new Hlc(clock, appliedHlc)
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
    hlc,
    author: deviceId,
    sign: c.init.sign,
    signAsync: c.init.signAsync,
    counters,
    lastSeq: new Map(seqs.map(r => [r.author, r.seq])),
    log: c.log,
    redo: c.redo,
    earlyReplies: c.earlyReplies,
    onCommitted: c.onCommitted
  })
  return { writer, hlc }
}

/**
 * Applies the ops of the redo log that the database lacks (answered before a kill, not yet
 * committed), commits them, and deletes the old segments. Local ops are signed again (Ed25519 is
 * deterministic: the same signature the commit would have stored).
 */
export async function replayRedo (writer: Writer, redo: { log: RedoLog, records: RedoRecord[], damaged: boolean }, c: Pick<LoadContext, 'init' | 'log'>): Promise<void> {
  const before = writer.committed.ops
  let failure: unknown
  await Promise.all(redo.records.map(async (rec) => {
    try {
      const op = decodeOp(rec.text)
      const sig = rec.sig ?? (op.author === c.init.deviceId ? c.init.sign?.(Buffer.from(rec.text)) : undefined)
      await writer.replay({ op, body: rec.text, sig })
    } catch (err) {
      failure ??= err
    }
  }))
  await writer.flush()
  const applied = writer.committed.ops - before
  if (applied > 0) c.log('applied %d ops from the redo log of the last run (answered before it stopped, not yet committed)', applied)
  if (redo.damaged || failure !== undefined) {
    c.log.error('the redo log of %s is damaged or did not apply (%s): ops after that point are lost; run `palm fsck`', c.init.path, failure instanceof Error ? failure.message : 'a damaged frame')
  }
  await redo.log.clearLeftovers()
}
