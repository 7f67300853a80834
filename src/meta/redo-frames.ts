/**
 * The redo log's frame format. A frame is self-delimiting and checksummed, so a reader can find the
 * frames after a damaged one: `u32 magic "PRD1" | u32 length | u32 crc32(length bytes ‖ payload)`,
 * then the payload (little-endian). The CRC covers the length, so a damaged length is caught too;
 * after a bad frame the reader looks for the next magic whose frame checks (a false match needs the
 * CRC to agree as well: 1 in 2^32). Payload = signature hex (may be empty) + "\n" + the op's signed
 * JSON text.
 *
 * Segments written before this format (`u32 length | u32 crc32(payload)`, no magic) are still
 * read; in them a reader cannot resync and stops at the first bad frame, as it always did.
 */
import { crc32 } from 'node:zlib'
import type { RedoRecord } from './redo.js'

const MAGIC = Buffer.from('PRD1', 'latin1')
const HEADER_BYTES = 12
const LEGACY_HEADER_BYTES = 8
/** A length above this is damage, not a frame (an op is at most a few MiB). */
const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024

/** Bytes of one segment that are not frames. */
export interface BadSpan {
  /** Offset of the first byte that is not a valid frame. */
  offset: number
  /** Bytes skipped up to the next valid frame (or to the end). */
  bytes: number
  /** Valid frames read after this span in the same segment. */
  framesAfter: number
}

/** A segment's frames and what in it is not a frame. */
export interface ParsedSegment {
  frames: RedoRecord[]
  /** Damaged spans followed by valid frames (frames after them were still read). */
  damaged: BadSpan[]
  /**
   * What is left after the last valid frame, if anything: an unfinished frame or zeros (a write cut
   * short by a kill or by power loss: never answered, or answered but not yet synced) or bytes that
   * are not a frame at all (damage).
   */
  tail?: BadSpan & { torn: boolean }
}

/**
 * The frames of `recs`, one after the other, written straight into one buffer (a merge logs a
 * thousand ops at a time: no payload, frame and concatenation copies of each).
 */
export function encodeFrames (recs: readonly RedoRecord[]): Buffer {
  let total = 0
  for (const r of recs) total += HEADER_BYTES + (r.sig != null ? 2 * r.sig.byteLength : 0) + 1 + Buffer.byteLength(r.text)
  const out = Buffer.allocUnsafe(total)
  let at = 0
  for (const r of recs) {
    const start = at + HEADER_BYTES
    let end = start
    if (r.sig != null) end += out.write(Buffer.from(r.sig.buffer, r.sig.byteOffset, r.sig.byteLength).toString('hex'), end, 'latin1')
    out[end++] = 0x0a
    end += out.write(r.text, end, 'utf8')
    MAGIC.copy(out, at)
    out.writeUInt32LE(end - start, at + 4)
    out.writeUInt32LE(crc32(out.subarray(start, end), crc32(out.subarray(at + 4, at + 8))), at + 8)
    at = end
  }
  return out
}

type At = { rec: RedoRecord, next: number } | 'short' | 'bad'

function frameAt (bytes: Buffer, at: number): At {
  if (at + HEADER_BYTES > bytes.length) return 'short'
  if (bytes.compare(MAGIC, 0, 4, at, at + 4) !== 0) return 'bad'
  const length = bytes.readUInt32LE(at + 4)
  if (length > MAX_PAYLOAD_BYTES) return 'bad'
  const start = at + HEADER_BYTES
  if (start + length > bytes.length) return 'short'
  const payload = bytes.subarray(start, start + length)
  if (crc32(payload, crc32(bytes.subarray(at + 4, at + 8))) !== bytes.readUInt32LE(at + 8)) return 'bad'
  const rec = decodePayload(payload)
  return rec == null ? 'bad' : { rec, next: start + length }
}

function decodePayload (payload: Buffer): RedoRecord | undefined {
  const text = payload.toString('utf8')
  const nl = text.indexOf('\n')
  if (nl < 0) return undefined
  const sigHex = text.slice(0, nl)
  return { text: text.slice(nl + 1), ...(sigHex.length > 0 ? { sig: new Uint8Array(Buffer.from(sigHex, 'hex')) } : {}) }
}

/** The next offset after `from` where a valid frame starts, or -1. */
function resync (bytes: Buffer, from: number): number {
  for (let p = bytes.indexOf(MAGIC, from); p >= 0; p = bytes.indexOf(MAGIC, p + 1)) {
    if (typeof frameAt(bytes, p) === 'object') return p
  }
  return -1
}

/** Reads every valid frame of a segment, past damaged spans. */
export function parseSegment (bytes: Buffer): ParsedSegment {
  // Old segments have no magic at all; a new one whose first frame is damaged still has later ones.
  if (bytes.length >= 4 && bytes.compare(MAGIC, 0, 4, 0, 4) !== 0 && !isZero(bytes.subarray(0, 4)) && resync(bytes, 0) < 0) return parseLegacy(bytes)
  const out: ParsedSegment = { frames: [], damaged: [] }
  let open: BadSpan | undefined
  let at = 0
  while (at < bytes.length) {
    const f = frameAt(bytes, at)
    if (typeof f === 'object') {
      out.frames.push(f.rec)
      if (open != null) open.framesAfter++
      at = f.next
      continue
    }
    const next = resync(bytes, at + 1)
    if (next < 0) {
      const rest = bytes.subarray(at)
      out.tail = { offset: at, bytes: rest.length, framesAfter: 0, torn: f === 'short' || isZero(rest) }
      break
    }
    open = { offset: at, bytes: next - at, framesAfter: 0 }
    out.damaged.push(open)
    at = next
  }
  return out
}

/** The format before magic numbers: frames up to the first bad one. */
function parseLegacy (bytes: Buffer): ParsedSegment {
  const frames: RedoRecord[] = []
  let at = 0
  let short = false
  while (at + LEGACY_HEADER_BYTES <= bytes.length) {
    const length = bytes.readUInt32LE(at)
    const start = at + LEGACY_HEADER_BYTES
    if (start + length > bytes.length) { short = true; break }
    const payload = bytes.subarray(start, start + length)
    if (crc32(payload) !== bytes.readUInt32LE(at + 4)) break
    const rec = decodePayload(payload)
    if (rec == null) break
    frames.push(rec)
    at = start + length
  }
  if (at >= bytes.length) return { frames, damaged: [] }
  const rest = bytes.subarray(at)
  return { frames, damaged: [], tail: { offset: at, bytes: rest.length, framesAfter: 0, torn: short || rest.length < LEGACY_HEADER_BYTES || isZero(rest) } }
}

function isZero (b: Buffer): boolean {
  for (const x of b) if (x !== 0) return false
  return true
}
