/**
 * The journal's redo log: every op the writer applies is also appended here, in apply order, with
 * one write(2) before its caller is answered. A killed daemon therefore loses no op that was
 * answered, even when SQLite had not committed it yet; the next start applies the ops the database
 * lacks (their seq is above the author's last committed one) and commits them. `sync()` is the
 * power-loss point together with the WAL. Why: a SQLite commit through node-sqlite3 costs a
 * threadpool round trip and ~120 µs of SQL per op (docs/durability.md), an append costs ~5 µs.
 *
 * On disk: segments `<journal>-redo-<n>`, each a run of self-delimiting, checksummed frames
 * (redo-frames.ts). A segment is full at `segmentBytes`; a new one is started and the older ones
 * are deleted once every op in them is committed. A torn last frame (a kill in the middle of a
 * write) is ignored. Damage is not: a reader resyncs past a damaged frame and gives back every valid
 * frame after it, reports where the damage is, and a damaged segment is moved aside (damaged.ts),
 * never deleted.
 */
import { closeSync, ftruncateSync, fdatasync, openSync, writeSync } from 'node:fs'
import { open, readFile, readdir, unlink } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import { moveAside } from './damaged.js'
import { journalError } from './db.js'
import { encodeFrames, parseSegment, type BadSpan } from './redo-frames.js'

/** One op as logged. */
export interface RedoRecord {
  /** The op's signed JSON text. */
  text: string
  /** Its signature, when the op came signed (ops of other devices); local ops are signed at commit. */
  sig?: Uint8Array
  /** The segment it was read from (records given back by `open`). */
  segment?: string
}

/** Bytes of a segment of the last run that are not valid frames (and not a torn tail). */
export interface RedoDamage extends BadSpan {
  /** The segment file, where it was found. */
  segment: string
}

/** What `RedoLog.open` found of the last run. */
export interface RedoOpened {
  log: RedoLog
  /** Every valid frame, in order, including those after damaged spans. */
  records: RedoRecord[]
  /** True when some bytes were damaged (see `damage`). */
  damaged: boolean
  damage: RedoDamage[]
}

/** A place in the log: rolling back to it drops every frame written after it. */
export interface RedoPosition {
  segment: number
  offset: number
}

interface Segment {
  n: number
  path: string
  fd: number
  bytes: number
  /** Highest writer batch with an op in this segment (-1: none). */
  lastBatch: number
}

/** Default size at which a new segment is started, bytes. */
export const REDO_SEGMENT_BYTES = 4 * 1024 * 1024

export class RedoLog {
  readonly #prefix: string
  readonly #segmentBytes: number
  readonly #segments: Segment[] = []
  /** A segment was created since the last sync: its directory entry must be synced too. */
  #dirDirty = true
  #closed = false

  private constructor (prefix: string, segmentBytes: number) {
    this.#prefix = prefix
    this.#segmentBytes = segmentBytes
  }

  /**
   * Opens the log of the journal at `dbPath` and returns the records left by the last run, in
   * order: every valid frame of every segment, also those after a damaged one, and where the damage
   * is. A torn end of the last segment (a write cut short) is not damage. The caller applies what
   * the database lacks, then calls `clearLeftovers()` (which keeps damaged segments aside).
   */
  static async open (dbPath: string, segmentBytes = REDO_SEGMENT_BYTES): Promise<RedoOpened> {
    const log = new RedoLog(`${dbPath}-redo-`, segmentBytes)
    const found = await log.#existing()
    const records: RedoRecord[] = []
    const damage: RedoDamage[] = []
    for (const n of found) {
      const segment = log.#pathOf(n)
      const parsed = parseSegment(await readFile(segment))
      for (const f of parsed.frames) records.push({ ...f, segment })
      for (const d of parsed.damaged) damage.push({ ...d, segment })
      // A torn tail is normal for the last segment (killed mid-write); anywhere else it is damage.
      const t = parsed.tail
      if (t != null && (!t.torn || n !== found[found.length - 1])) damage.push({ offset: t.offset, bytes: t.bytes, framesAfter: 0, segment })
    }
    // Continue numbering after what exists (they are deleted by clearLeftovers()).
    const next = found.length > 0 ? found[found.length - 1] + 1 : 0
    log.#startSegment(next)
    log.#leftovers = found
    return { log, records, damaged: damage.length > 0, damage }
  }

  #leftovers: number[] = []

  /** Segment numbers on disk, ascending. */
  async #existing (): Promise<number[]> {
    return await segmentNumbers(this.#prefix)
  }

  #pathOf (n: number): string {
    return `${this.#prefix}${n}`
  }

  /**
   * The number the next segment gets: never one used before in this run, since a dropped segment
   * is unlinked in the background and a new file of that name would be deleted with it.
   */
  #nextNumber = 0

  #startSegment (n: number): Segment {
    this.#nextNumber = n + 1
    const path = this.#pathOf(n)
    let fd: number
    try {
      fd = openSync(path, 'a')
    } catch (err) {
      throw journalError(err, path, 'creating its redo log')
    }
    const seg = { n, path, fd, bytes: 0, lastBatch: -1 }
    this.#segments.push(seg)
    this.#dirDirty = true
    return seg
  }

  get #current (): Segment {
    return this.#segments[this.#segments.length - 1]
  }

  /** Where the next frame goes (for rollback). */
  position (): RedoPosition {
    const c = this.#current
    return { segment: c.n, offset: c.bytes }
  }

  /**
   * Appends one op for writer batch `batch` with one write(2) (synchronous: the caller answers
   * only after it). On failure (disk full) the partial frame is cut off again and the error thrown.
   */
  append (rec: RedoRecord, batch: number): void {
    this.appendAll([rec], batch)
  }

  /** Appends ops (a merge's, in apply order) with one write(2); all or none, as `append`. */
  appendAll (recs: RedoRecord[], batch: number): void {
    if (this.#closed) throw journalError(new Error('the redo log is closed'), this.#prefix, 'appending to its redo log')
    if (recs.length === 0) return
    let c = this.#current
    if (c.bytes >= this.#segmentBytes) c = this.#startSegment(this.#nextNumber)
    const frame = encodeFrames(recs)
    try {
      const written = writeSync(c.fd, frame)
      if (written !== frame.length) throw new Error(`short write (${written} of ${frame.length} bytes)`)
    } catch (err) {
      try { ftruncateSync(c.fd, c.bytes) } catch {}
      throw journalError(err, c.path, 'appending to its redo log')
    }
    c.bytes += frame.length
    if (batch > c.lastBatch) c.lastBatch = batch
  }

  /** Drops every frame after `pos` (the ops of a batch whose commit failed, and everything after). */
  rollback (pos: RedoPosition): void {
    while (this.#segments.length > 1 && this.#current.n > pos.segment) this.#drop(this.#segments.pop() as Segment)
    const c = this.#current
    if (c.n !== pos.segment) return
    try {
      ftruncateSync(c.fd, pos.offset)
      c.bytes = pos.offset
    } catch {
      // Left as it is: a replay skips ops the database has, and the journal is read-only now anyway.
    }
  }

  /**
   * Every op of batches up to `batch` is committed: segments holding nothing newer are deleted;
   * the current one is emptied when `idle` (nothing applied is uncommitted) and it has grown.
   */
  committed (batch: number, idle: boolean): void {
    while (this.#segments.length > 1 && this.#segments[0].lastBatch <= batch) this.#drop(this.#segments.shift() as Segment)
    const c = this.#current
    if (idle && this.#segments.length === 1 && c.lastBatch <= batch && c.bytes >= this.#segmentBytes / 4) {
      try {
        ftruncateSync(c.fd, 0)
        c.bytes = 0
      } catch {}
    }
  }

  /**
   * Deletes the segments of the last run (after their ops were applied and committed), except
   * those in `keep` (damaged, or holding ops that did not apply): they are moved aside into the
   * journal's `damaged/` folder. Returns where the kept ones are now.
   */
  async clearLeftovers (keep: ReadonlySet<string> = new Set()): Promise<string[]> {
    const kept: string[] = []
    for (const n of this.#leftovers.splice(0)) {
      const path = this.#pathOf(n)
      if (keep.has(path)) {
        const to = await moveAside(path, this.#prefix.slice(0, -'-redo-'.length))
        if (to != null) kept.push(to)
      } else {
        await unlink(path).catch(() => {})
      }
    }
    return kept
  }

  /** fdatasync of every live segment (and of the directory after a segment was created). */
  async sync (): Promise<void> {
    const dirDirty = this.#dirDirty
    this.#dirDirty = false
    await Promise.all(this.#segments.map(async s => { await datasync(s.fd, s.path) }))
    if (dirDirty) {
      const dir = await open(dirname(this.#prefix), 'r')
      try { await dir.sync() } finally { await dir.close() }
    }
  }

  /**
   * Closes and deletes every segment: call only when every op is committed (clean stop). With
   * `keep`, the files stay for the next start to apply (answered ops whose commit failed).
   */
  async close (keep = false): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const s of this.#segments.splice(0)) {
      if (keep) { try { closeSync(s.fd) } catch {} } else this.#drop(s)
    }
    if (!keep) await this.clearLeftovers()
  }

  #drop (s: Segment): void {
    try { closeSync(s.fd) } catch {}
    void unlink(s.path).catch(() => {})
  }
}

async function datasync (fd: number, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    fdatasync(fd, (err) => {
      // A segment closed meanwhile (deleted: its ops are committed) needs nothing.
      if (err == null || err.code === 'EBADF') resolve()
      else reject(journalError(err, path, 'syncing its redo log'))
    })
  })
}

/** The redo segments of the journal at `dbPath` (for tools and tests). */
export async function redoSegments (dbPath: string): Promise<string[]> {
  return (await segmentNumbers(`${dbPath}-redo-`)).map(n => `${dbPath}-redo-${n}`)
}

/** The numbers of the segment files `<prefix><n>` that exist, ascending. */
async function segmentNumbers (prefix: string): Promise<number[]> {
  const base = basename(prefix)
  const names = await readdir(dirname(prefix)).catch(() => [] as string[])
  return names.filter(n => n.startsWith(base) && /^\d+$/.test(n.slice(base.length)))
    .map(n => Number(n.slice(base.length))).sort((a, b) => a - b)
}
