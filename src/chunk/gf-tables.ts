/**
 * Bulk GF(2^8) multiply-accumulate for the pure-JS Reed-Solomon engine. Speed comes from 16-bit
 * product tables (two bytes per lookup) applied to 32-bit words: about 3× the byte-at-a-time loop
 * (bench/chunk.bench.ts). Tables are 128 KiB each and cached per coefficient (bounded).
 */
import { gfMulRow } from './gf256.js'

/** Most 16-bit tables kept per thread (64 × 128 KiB = 8 MiB). */
const MAX_TABLES = 64

/**
 * Bytes a coefficient must have been applied to (with the 256-byte row) before its 16-bit table is
 * built: a build (64 Ki entries) costs about a 128 KiB pass, so short one-off work (small stripes,
 * policies like 128-of-255 with hundreds of coefficients) never pays for tables it cannot reuse.
 */
const BYTES_BEFORE_TABLE = 128 * 1024

/** Bytes processed per coefficient without a table, since its table was last dropped. */
const usage = new Float64Array(256)

const tables = new Map<number, Uint16Array>()
const rows = new Map<number, Uint8Array>()

function row8 (c: number): Uint8Array {
  let row = rows.get(c)
  if (row == null) {
    row = gfMulRow(c)
    rows.set(c, row)
  }
  return row
}

function table16 (c: number, passBytes: number): Uint16Array | undefined {
  let t = tables.get(c)
  if (t != null) return t
  usage[c] += passBytes
  if (usage[c] < BYTES_BEFORE_TABLE) return undefined
  const row = row8(c)
  t = new Uint16Array(65536)
  for (let hi = 0; hi < 256; hi++) {
    const h = row[hi] << 8
    const base = hi << 8
    for (let lo = 0; lo < 256; lo++) t[base | lo] = h | row[lo]
  }
  if (tables.size >= MAX_TABLES) {
    // Maps iterate in insertion order: drop the oldest table.
    const oldest = tables.keys().next().value
    if (oldest !== undefined) { tables.delete(oldest); usage[oldest] = 0 }
  }
  tables.set(c, t)
  return t
}

function words (u8: Uint8Array, count: number): Uint32Array {
  return new Uint32Array(u8.buffer, u8.byteOffset, count)
}

/**
 * dst = c · src (assign = true) or dst ^= c · src (assign = false), over equal lengths. Both views
 * must start at a 4-byte aligned offset for the fast path; callers align (see alignedCopy).
 */
export function mulAdd (c: number, src: Uint8Array, dst: Uint8Array, assign: boolean): void {
  const len = src.length
  const aligned = (src.byteOffset & 3) === 0 && (dst.byteOffset & 3) === 0
  const wordCount = aligned ? len >>> 2 : 0
  if (wordCount > 0) {
    const s = words(src, wordCount)
    const d = words(dst, wordCount)
    if (c === 1) {
      if (assign) d.set(s)
      else for (let i = 0; i < wordCount; i++) d[i] ^= s[i]
    } else if (c === 0) {
      if (assign) d.fill(0)
    } else {
      const t = table16(c, len)
      if (t === undefined) {
        mulAddBytes(c, src, dst, assign, 0)
        return
      }
      if (assign) {
        for (let i = 0; i < wordCount; i++) { const v = s[i]; d[i] = t[v & 0xffff] | (t[v >>> 16] << 16) }
      } else {
        for (let i = 0; i < wordCount; i++) { const v = s[i]; d[i] ^= t[v & 0xffff] | (t[v >>> 16] << 16) }
      }
    }
  }
  mulAddBytes(c, src, dst, assign, wordCount << 2)
}

/** The byte-at-a-time form of mulAdd from `start` on, with the 256-byte product row. */
function mulAddBytes (c: number, src: Uint8Array, dst: Uint8Array, assign: boolean, start: number): void {
  const row = row8(c)
  const len = src.length
  if (assign) for (let i = start; i < len; i++) dst[i] = row[src[i]]
  else for (let i = start; i < len; i++) dst[i] ^= row[src[i]]
}

/** `src` itself when it is 4-byte aligned, else an aligned copy (a memcpy is far cheaper than the slow path). */
export function alignedView (src: Uint8Array): Uint8Array {
  if ((src.byteOffset & 3) === 0) return src
  return new Uint8Array(src)
}
