/**
 * Small fragments in append-only pack segments with an in-memory index (bitcask). A put is one
 * record appended by the shared writer (PackAppender); a delete appends a tombstone; sync is one
 * fdatasync per segment touched, not one per fragment plus its directory. At start every segment
 * is scanned to rebuild the index, and a torn tail of the last segment (a crash mid-append) is cut
 * off. Compaction (pack-compact.ts) rewrites segments that are mostly dead.
 *
 * Memory: one index entry per stored small fragment (measured in docs/store.md).
 */
import { mkdir, open, readdir, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { throwIfAborted, type AbortOptions } from '../util/abort.js'
import type { Logger } from '../util/logger.js'
import { IO_CONCURRENCY } from './constants.js'
import { isNotFound } from './io-error.js'
import { createSegmentFile, PackAppender, type ActiveSegment } from './pack-appender.js'
import { encodeHeader, encodeTombstoneData, RECORD_FRAGMENT, RECORD_TOMBSTONE } from './pack-format.js'
import { SegmentHandles } from './pack-handles.js'
import { scanSegment, type ScannedRecord, type ScanTotals } from './pack-scan.js'
import { forEachLimit } from './parallel.js'

/** Where a small fragment's data is. */
export interface PackLocation {
  segment: number
  dataOffset: number
  length: number
  /** Last put of this fragment (ms since the epoch); GC age. */
  storedAtMs: number
}

/** Size and live bytes of one segment. */
export interface SegmentInfo {
  sizeBytes: number
  /** Data bytes of the live fragments in it. */
  liveBytes: number
}

const SEGMENT_NAME = /^([0-9a-f]{8})\.pack$/

/** The pack segments of one store and their in-memory index. */
export class PackStore {
  readonly dir: string
  readonly #segmentBytes: number
  readonly #log: Logger
  readonly #index = new Map<string, PackLocation>()
  readonly #segments = new Map<number, SegmentInfo>()
  readonly #handles: SegmentHandles
  #appender: PackAppender | undefined
  #liveBytes = 0
  /** Segment numbers are never reused, so a tombstone can never hit a later segment of the same number. */
  #nextSegment = 1
  /** A segment was created or removed since the directory was last fsynced. */
  #dirDirty = false

  constructor (dir: string, segmentBytes: number, log: Logger) {
    this.dir = dir
    this.#segmentBytes = segmentBytes
    this.#log = log
    this.#handles = new SegmentHandles(s => this.pathOf(s))
  }

  pathOf (segment: number): string {
    return join(this.dir, `${segment.toString(16).padStart(8, '0')}.pack`)
  }

  /** Scans every segment, rebuilds the index, cuts a torn tail and opens the last segment for appending. */
  async open (options: AbortOptions = {}): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const numbers = (await readdir(this.dir))
      .map(name => SEGMENT_NAME.exec(name)).filter(m => m != null).map(m => parseInt(m[1], 16)).sort((a, b) => a - b)
    let active: ActiveSegment | undefined
    this.#nextSegment = (numbers.at(-1) ?? 0) + 1
    for (const [i, segment] of numbers.entries()) {
      const last = i === numbers.length - 1
      const fh = await open(this.pathOf(segment), last ? 'r+' : 'r')
      let keep = false
      try {
        const totals = await this.#load(segment, fh, options)
        if (last) {
          const size = this.#segments.get(segment)?.sizeBytes ?? 0
          if (size > totals.validEnd) {
            this.#log('cutting %d bytes of torn tail off pack segment %s (a write interrupted by a crash)', size - totals.validEnd, this.pathOf(segment))
            await fh.truncate(totals.validEnd)
            this.#segments.set(segment, { ...(this.#segments.get(segment) as SegmentInfo), sizeBytes: totals.validEnd })
          }
          if (totals.validEnd < this.#segmentBytes) { active = { segment, fh, sizeBytes: totals.validEnd }; keep = true }
        }
      } finally {
        if (!keep) await fh.close()
      }
    }
    for (const loc of this.#index.values()) {
      const info = this.#segments.get(loc.segment)
      if (info != null) info.liveBytes += loc.length
      this.#liveBytes += loc.length
    }
    this.#appender = new PackAppender(this.#segmentBytes, {
      createSegment: async () => await this.#createSegment(),
      grew: (segment, sizeBytes) => { const info = this.#segments.get(segment); if (info != null) info.sizeBytes = sizeBytes }
    }, this.#log, active)
  }

  async #load (segment: number, fh: FileHandle, options: AbortOptions): Promise<ScanTotals> {
    const sizeBytes = (await fh.stat()).size
    this.#segments.set(segment, { sizeBytes, liveBytes: 0 })
    const totals: ScanTotals = { validEnd: 0, garbageBytes: 0 }
    for await (const r of scanSegment(fh, sizeBytes, totals, options)) this.#replay(segment, r)
    if (totals.garbageBytes > 0) this.#log('pack segment %s: skipped %d damaged bytes', this.pathOf(segment), totals.garbageBytes)
    return totals
  }

  /** Applies one scanned record in log order (later records win). */
  #replay (segment: number, r: ScannedRecord): void {
    if (r.type === RECORD_FRAGMENT) {
      this.#index.set(flatKey(r.key), { segment, dataOffset: r.dataOffset, length: r.dataLength, storedAtMs: r.storedAtS * 1000 })
    } else if (r.type === RECORD_TOMBSTONE && this.#index.get(r.key)?.segment === r.target) {
      this.#index.delete(r.key)
    }
  }

  async #createSegment (): Promise<ActiveSegment> {
    const segment = this.#nextSegment++
    const active = await createSegmentFile(this.pathOf(segment), segment)
    this.#segments.set(segment, { sizeBytes: 0, liveBytes: 0 })
    this.#dirDirty = true
    return active
  }

  lookup (key: string): PackLocation | undefined { return this.#index.get(key) }

  /** Marks a fragment as put again now (GC age), without writing. */
  touch (key: string, nowMs: number): void {
    const loc = this.#index.get(key)
    if (loc != null) loc.storedAtMs = nowMs
  }

  get count (): number { return this.#index.size }
  get liveBytes (): number { return this.#liveBytes }
  get activeSegment (): number | undefined { return this.#appender?.activeSegment }

  /** Every stored small fragment (key and location), live view. */
  entries (): IterableIterator<[string, PackLocation]> { return this.#index.entries() }

  /** Segment sizes and live bytes (compaction picks from these). */
  segments (): ReadonlyMap<number, SegmentInfo> { return this.#segments }

  /** Appends a fragment record and indexes it. */
  async append (cid: CID, key: string, bytes: Uint8Array, storedAtMs: number): Promise<PackLocation> {
    const header = encodeHeader(RECORD_FRAGMENT, cid.bytes, bytes.byteLength, Math.floor(storedAtMs / 1000))
    const at = await this.#writer().append([header, bytes])
    return this.setLocation(key, { segment: at.segment, dataOffset: at.offset + header.byteLength, length: bytes.byteLength, storedAtMs })
  }

  /** Appends a tombstone killing the record of `key` in `target` (no index change); returns the segment written. */
  async appendTombstone (cid: CID, target: number): Promise<number> {
    const header = encodeHeader(RECORD_TOMBSTONE, cid.bytes, 4, Math.floor(Date.now() / 1000))
    const at = await this.#writer().append([header, encodeTombstoneData(target)])
    return at.segment
  }

  /** Points the index at a new copy of `key`, retiring the old one from the live counts. */
  setLocation (key: string, loc: PackLocation): PackLocation {
    this.#dropLive(this.#index.get(key))
    this.#index.set(this.#index.has(key) ? key : flatKey(key), loc)
    const info = this.#segments.get(loc.segment)
    if (info != null) info.liveBytes += loc.length
    this.#liveBytes += loc.length
    return loc
  }

  /** Removes `key` (index + tombstone). Returns the removed location, or undefined if absent. */
  async remove (cid: CID, key: string): Promise<PackLocation | undefined> {
    const loc = this.#index.get(key)
    if (loc == null) return undefined
    this.#index.delete(key)
    this.#dropLive(loc)
    // If this write fails the fragment comes back after a restart: an orphan, collected again by GC.
    await this.appendTombstone(cid, loc.segment)
    return loc
  }

  #dropLive (loc: PackLocation | undefined): void {
    if (loc == null) return
    const info = this.#segments.get(loc.segment)
    if (info != null) info.liveBytes -= loc.length
    this.#liveBytes -= loc.length
  }

  /**
   * Reads the data of `key` as indexed now; undefined if absent. Fewer bytes than indexed (a
   * truncated segment) come back short, for the caller's CID check to reject.
   */
  async read (key: string, options: AbortOptions = {}): Promise<{ loc: PackLocation, bytes: Uint8Array } | undefined> {
    for (;;) {
      throwIfAborted(options.signal, 'pack read')
      const loc = this.#index.get(key)
      if (loc == null) return undefined
      try {
        const bytes = await this.#handles.with(loc.segment, async fh => await readAt(fh, loc.dataOffset, loc.length))
        return { loc, bytes }
      } catch (err) {
        // Compaction moved the record and removed its segment between lookup and open: look again.
        if (isNotFound(err) && this.#index.get(key) !== loc) continue
        throw err
      }
    }
  }

  /** fdatasyncs the given segments (those still existing) and the directory if segments came or went. */
  async sync (segments: Iterable<number>): Promise<void> {
    const wanted = [...new Set(segments)].filter(s => this.#segments.has(s))
    await forEachLimit(wanted, IO_CONCURRENCY, async segment => {
      try {
        await this.#handles.with(segment, async fh => { await fh.datasync() })
      } catch (err) {
        if (!isNotFound(err)) throw err
      }
    })
    if (this.#dirDirty) {
      this.#dirDirty = false
      try {
        await fsyncDir(this.dir)
      } catch (err) {
        this.#dirDirty = true
        throw err
      }
    }
  }

  /** Deletes a segment file after compaction copied its live records (and those copies were synced). */
  async dropSegment (segment: number, unlinkFile: (path: string) => Promise<void>): Promise<void> {
    this.#segments.delete(segment)
    await unlinkFile(this.pathOf(segment))
    await this.#handles.retire(segment)
    this.#dirDirty = true
  }

  /** Runs `fn` with a read handle of `segment`. */
  async withSegment<T> (segment: number, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    return await this.#handles.with(segment, fn)
  }

  async close (): Promise<void> {
    await this.#appender?.close()
    this.#appender = undefined
    await this.#handles.closeAll()
  }

  #writer (): PackAppender {
    if (this.#appender == null) throw new Error('pack store is not open')
    return this.#appender
  }
}

/**
 * A CID string as a flat one-byte string. The base32 text multiformats builds keeps its pieces
 * alive (measured 1645 heap bytes per index entry instead of 190), so index keys are copied flat.
 */
function flatKey (key: string): string {
  return Buffer.from(key, 'latin1').toString('latin1')
}

async function readAt (fh: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buf = Buffer.allocUnsafe(length)
  let got = 0
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got)
    if (bytesRead === 0) break
    got += bytesRead
  }
  return buf.subarray(0, got)
}

/** fsync of a directory: makes the names created or removed in it durable. */
export async function fsyncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}
