/**
 * Helpers of the chunk tests: a fixed salt, deterministic bytes, k-subsets, and typed-error asserts.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { prng } from '../../helpers/prng.js'

/** A fixed 32-byte swarm salt. */
export const SALT: Uint8Array = createHash('sha256').update('palm chunk test salt').digest()
/** Another salt (another swarm). */
export const OTHER_SALT: Uint8Array = createHash('sha256').update('palm chunk test salt (other swarm)').digest()

export { prng }

/** `length` deterministic pseudo-random bytes for `seed`. */
export function bytesOf (seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length)
  const words = new Uint32Array(out.buffer, 0, length >>> 2)
  const next = prng(seed)
  for (let i = 0; i < words.length; i++) words[i] = next() * 4294967296
  for (let i = words.length * 4; i < length; i++) out[i] = next() * 256
  return out
}

/** Every k-subset of 0 … n-1 (in lexicographic order). */
export function subsets (n: number, k: number): number[][] {
  const out: number[][] = []
  const pick = (start: number, acc: number[]): void => {
    if (acc.length === k) { out.push([...acc]); return }
    for (let i = start; i <= n - (k - acc.length); i++) { acc.push(i); pick(i + 1, acc); acc.pop() }
  }
  pick(0, [])
  return out
}

/** `count` random k-subsets of 0 … n-1, always including the all-parity-first worst case (the last k). */
export function randomSubsets (n: number, k: number, count: number, seed: number): number[][] {
  const next = prng(seed)
  const out: number[][] = [Array.from({ length: k }, (_, i) => n - k + i)]
  while (out.length < count) {
    const all = Array.from({ length: n }, (_, i) => i)
    for (let i = n - 1; i > 0; i--) { const j = Math.floor(next() * (i + 1)); [all[i], all[j]] = [all[j], all[i]] }
    out.push(all.slice(0, k).sort((a, b) => a - b))
  }
  return out
}

/** n choose k (small values). */
export function choose (n: number, k: number): number {
  let r = 1
  for (let i = 1; i <= k; i++) r = r * (n - k + i) / i
  return Math.round(r)
}

/** Asserts that `fn` throws (or rejects with) an error of this name; returns it. */
export async function expectError<T = Error> (fn: () => unknown, name: string): Promise<T & Error> {
  try {
    await fn()
  } catch (err) {
    assert.equal((err as Error).name, name, `expected ${name}, got ${(err as Error).name}: ${(err as Error).message}`)
    return err as T & Error
  }
  assert.fail(`expected ${name}, but nothing was thrown`)
}

/** Byte equality with a short failure message (no 4 MiB dumps). */
export function assertSameBytes (actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`)
  assert.ok(Buffer.from(actual.buffer, actual.byteOffset, actual.length).equals(expected), `${what}: bytes differ`)
}
