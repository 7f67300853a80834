/**
 * Record format of pack segments (bitcask-style append-only files of small fragments).
 *
 *   offset  size  field
 *   0       4     magic 'PLM1' (little-endian u32 0x314d4c50)
 *   4       1     type: 1 = fragment, 2 = tombstone
 *   5       1     CID length in bytes (36 for PALM's CIDv1 raw blake3 or sha256)
 *   6       2     reserved, 0
 *   8       4     data length in bytes (u32 LE)
 *   12      4     stored at, seconds since the epoch (u32 LE)
 *   16      4     CRC-32 of bytes 0..15 and the CID bytes
 *   20      n     CID bytes
 *   20+n    len   data: the fragment, or for a tombstone the u32 LE number of the segment whose
 *                 record of this CID it kills
 *
 * The CRC covers the header only: fragment data is checked against its CID on every read, and a
 * torn or zeroed tail (power loss before sync) fails the header check and is cut off at start.
 */
import { crc32 } from 'node:zlib'

/** First four bytes of every record: 'PLM1'. */
export const RECORD_MAGIC = 0x314d4c50
/** Record type: a fragment. */
export const RECORD_FRAGMENT = 1
/** Record type: a tombstone (the fragment was deleted). */
export const RECORD_TOMBSTONE = 2
/** Bytes of the fixed part of a record header (before the CID). */
export const HEADER_FIXED_BYTES = 20
/** Data length of a tombstone record. */
export const TOMBSTONE_DATA_BYTES = 4
/** Largest CID accepted in a record header. */
export const MAX_CID_BYTES = 128
/** Largest data length accepted in a record header (guards a scan against a corrupt length). */
export const MAX_RECORD_DATA_BYTES = 64 * 1024 * 1024

const MAGIC_BYTES = Buffer.from([0x50, 0x4c, 0x4d, 0x31])

/** A decoded record header. */
export interface RecordHeader {
  type: number
  cidBytes: Uint8Array
  dataLength: number
  storedAtS: number
  /** Header + CID bytes: the data starts this many bytes after the record start. */
  headerLength: number
}

/** Header + CID bytes of a record; the data is written after it (writev, no copy of the fragment). */
export function encodeHeader (type: number, cidBytes: Uint8Array, dataLength: number, storedAtS: number): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_FIXED_BYTES + cidBytes.byteLength)
  buf.writeUInt32LE(RECORD_MAGIC, 0)
  buf.writeUInt8(type, 4)
  buf.writeUInt8(cidBytes.byteLength, 5)
  buf.writeUInt16LE(0, 6)
  buf.writeUInt32LE(dataLength, 8)
  buf.writeUInt32LE(storedAtS >>> 0, 12)
  buf.set(cidBytes, HEADER_FIXED_BYTES)
  buf.writeUInt32LE(headerCrc(buf, 0, cidBytes.byteLength), 16)
  return buf
}

/** The data of a tombstone that kills the record in `segment`. */
export function encodeTombstoneData (segment: number): Buffer {
  const buf = Buffer.allocUnsafe(TOMBSTONE_DATA_BYTES)
  buf.writeUInt32LE(segment, 0)
  return buf
}

/** The segment number a tombstone targets. */
export function decodeTombstoneData (data: Uint8Array): number {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).readUInt32LE(0)
}

/**
 * Parses the header at `buf[at…]`. Returns undefined when the bytes are not a valid header (bad
 * magic, bad CRC, absurd lengths) and 'short' when `buf` ends before the header does.
 */
export function decodeHeader (buf: Buffer, at: number): RecordHeader | 'short' | undefined {
  if (buf.length - at < HEADER_FIXED_BYTES) return 'short'
  if (buf.readUInt32LE(at) !== RECORD_MAGIC) return undefined
  const type = buf.readUInt8(at + 4)
  const cidLength = buf.readUInt8(at + 5)
  const dataLength = buf.readUInt32LE(at + 8)
  if ((type !== RECORD_FRAGMENT && type !== RECORD_TOMBSTONE) || cidLength === 0 || cidLength > MAX_CID_BYTES ||
      dataLength > MAX_RECORD_DATA_BYTES || buf.readUInt16LE(at + 6) !== 0) return undefined
  if (buf.length - at < HEADER_FIXED_BYTES + cidLength) return 'short'
  if (buf.readUInt32LE(at + 16) !== headerCrc(buf, at, cidLength)) return undefined
  if (type === RECORD_TOMBSTONE && dataLength !== TOMBSTONE_DATA_BYTES) return undefined
  return {
    type,
    cidBytes: buf.subarray(at + HEADER_FIXED_BYTES, at + HEADER_FIXED_BYTES + cidLength),
    dataLength,
    storedAtS: buf.readUInt32LE(at + 12),
    headerLength: HEADER_FIXED_BYTES + cidLength
  }
}

/** Index of the next possible record start after a bad one (the next magic), or -1. */
export function findMagic (buf: Buffer, from: number): number {
  return buf.indexOf(MAGIC_BYTES, from)
}

function headerCrc (buf: Buffer, at: number, cidLength: number): number {
  const fixed = crc32(buf.subarray(at, at + 16))
  return crc32(buf.subarray(at + HEADER_FIXED_BYTES, at + HEADER_FIXED_BYTES + cidLength), fixed)
}
