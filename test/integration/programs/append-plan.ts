/**
 * The shared plan of the append-while-read test: record sizes and fsync points from a seed, and the
 * byte every offset must hold. Bytes are never zero and depend on the offset, so a reader that gets
 * zeros or bytes of another offset (stale or misplaced data) sees a mismatch.
 */
import { prng } from '../../helpers/prng.js'

export interface AppendPlan {
  records: number[]
  /** fsync after every this many records. */
  fsyncEvery: number
  totalBytes: number
}

/** Record sizes (mostly small, some up to 64 KiB) and an fsync interval, from `seed`. */
export function appendPlan (seed: number, count: number): AppendPlan {
  const rand = prng(seed)
  const records: number[] = []
  for (let i = 0; i < count; i++) {
    const r = rand()
    records.push(1 + Math.floor(r < 0.6 ? rand() * 512 : r < 0.95 ? rand() * 4096 : rand() * 65536))
  }
  const fsyncEvery = 1 + Math.floor(rand() * 400)
  return { records, fsyncEvery, totalBytes: records.reduce((a, b) => a + b, 0) }
}

/** The byte at file offset `at` (never 0). */
export function byteAt (seed: number, at: number): number {
  let h = Math.imul((at ^ seed) >>> 0, 0x9e3779b1)
  h ^= h >>> 15
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  return (h & 0xff) === 0 ? 1 : h & 0xff
}

/** Fills `out` with the bytes of offsets [at, at + out.length). */
export function fillExpected (seed: number, at: number, out: Uint8Array): void {
  for (let i = 0; i < out.length; i++) out[i] = byteAt(seed, at + i)
}

/** The first offset in `got` (read at `at`) that differs from the plan, or -1. */
export function firstMismatch (seed: number, at: number, got: Uint8Array): number {
  for (let i = 0; i < got.length; i++) if (got[i] !== byteAt(seed, at + i)) return i
  return -1
}
