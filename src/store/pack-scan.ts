/**
 * Sequential scan of one pack segment: yields every valid record and skips damage. A bad header
 * (torn write, zeroed tail after power loss, bit rot) is skipped by searching for the next magic;
 * the bytes skipped are counted as garbage, and `validEnd` is where the last valid record ends
 * (the start-up code cuts an active segment's torn tail there).
 */
import type { FileHandle } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import { throwIfAborted, type AbortOptions } from '../util/abort.js'
import {
  decodeHeader, decodeTombstoneData, findMagic, HEADER_FIXED_BYTES, MAX_CID_BYTES, RECORD_TOMBSTONE
} from './pack-format.js'

/** Bytes read per step of a scan (grown for a larger record). */
const WINDOW_BYTES = 1024 * 1024

/** One valid record found by a scan. */
export interface ScannedRecord {
  type: number
  cid: CID
  /** The CID's string form (the index key). */
  key: string
  /** Where the record starts in the segment. */
  offset: number
  /** Where its data starts. */
  dataOffset: number
  dataLength: number
  storedAtS: number
  /** Header + CID + data bytes. */
  recordBytes: number
  /** For a tombstone: the segment whose record of this CID it kills. */
  target?: number
  /** The record's data, when the scan was asked for it. */
  data?: Uint8Array
}

/** What a scan found besides records. */
export interface ScanTotals {
  /** End of the last valid record. */
  validEnd: number
  /** Bytes that belong to no valid record. */
  garbageBytes: number
}

/** Options of a segment scan. */
export interface ScanOptions extends AbortOptions {
  /** Also read each fragment's data (compaction). Default false: headers only. */
  withData?: boolean
}

/** Yields the valid records of a segment of `sizeBytes` in order; fills `totals` as it goes. */
export async function * scanSegment (fh: FileHandle, sizeBytes: number, totals: ScanTotals, options: ScanOptions = {}): AsyncGenerator<ScannedRecord> {
  const reader = new WindowReader(fh, sizeBytes)
  let pos = 0
  while (pos < sizeBytes) {
    throwIfAborted(options.signal, 'pack scan')
    await reader.cover(pos, HEADER_FIXED_BYTES + MAX_CID_BYTES)
    const header = decodeHeader(reader.buf, pos - reader.start)
    const recordEnd = typeof header === 'object' ? pos + header.headerLength + header.dataLength : -1
    if (typeof header !== 'object' || recordEnd > sizeBytes) {
      const next = await reader.nextMagic(pos + 1)
      totals.garbageBytes += next - pos
      pos = next
      continue
    }
    const dataOffset = pos + header.headerLength
    const wantData = header.type === RECORD_TOMBSTONE || options.withData === true
    let data: Uint8Array | undefined
    const cidBytes = Uint8Array.from(header.cidBytes)
    if (wantData) {
      await reader.cover(dataOffset, header.dataLength)
      const at = dataOffset - reader.start
      data = Uint8Array.prototype.slice.call(reader.buf, at, at + header.dataLength)
    }
    let cid: CID
    try {
      cid = CID.decode(cidBytes)
    } catch {
      const next = await reader.nextMagic(pos + 1)
      totals.garbageBytes += next - pos
      pos = next
      continue
    }
    yield {
      type: header.type,
      cid,
      key: cid.toString(),
      offset: pos,
      dataOffset,
      dataLength: header.dataLength,
      storedAtS: header.storedAtS,
      recordBytes: recordEnd - pos,
      ...(header.type === RECORD_TOMBSTONE && data != null ? { target: decodeTombstoneData(data) } : {}),
      ...(options.withData === true ? { data } : {})
    }
    pos = recordEnd
    totals.validEnd = recordEnd
  }
}

/** A window of the file in memory, refilled by positioned reads. */
class WindowReader {
  buf: Buffer = Buffer.alloc(0)
  start = 0
  readonly #fh: FileHandle
  readonly #size: number
  #scratch: Buffer = Buffer.allocUnsafe(WINDOW_BYTES)

  constructor (fh: FileHandle, size: number) {
    this.#fh = fh
    this.#size = size
  }

  /** Makes [pos, pos + length) (clipped to the file) available in `buf`. */
  async cover (pos: number, length: number): Promise<void> {
    const end = Math.min(this.#size, pos + length)
    if (pos >= this.start && end <= this.start + this.buf.length) return
    const want = Math.max(WINDOW_BYTES, length)
    if (this.#scratch.length < want) this.#scratch = Buffer.allocUnsafe(want)
    const toRead = Math.min(want, this.#size - pos)
    let got = 0
    while (got < toRead) {
      const { bytesRead } = await this.#fh.read(this.#scratch, got, toRead - got, pos + got)
      if (bytesRead === 0) break
      got += bytesRead
    }
    this.buf = this.#scratch.subarray(0, got)
    this.start = pos
  }

  /** Position of the next magic at or after `from`, or the file size when there is none. */
  async nextMagic (from: number): Promise<number> {
    let pos = from
    while (pos < this.#size) {
      await this.cover(pos, WINDOW_BYTES)
      const at = findMagic(this.buf, pos - this.start)
      if (at >= 0) return this.start + at
      if (this.start + this.buf.length >= this.#size) break
      // Keep 3 bytes of overlap so a magic split across two windows is still found.
      pos = Math.max(pos + 1, this.start + this.buf.length - 3)
    }
    return this.#size
  }
}
