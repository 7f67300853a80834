/**
 * Privacy below k: for structured plaintexts (repeated text, a zero-filled stripe) no fragment, and
 * so no set of k − 1 fragments, contains any 16-byte window of the plaintext, and every shard's byte
 * frequencies pass a chi-square test. The control, plain systematic Reed-Solomon without the
 * transform, fails both tests on the same input: the tests can tell.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HEADER_LENGTH_BYTES, encodeStripe, reedSolomonCodec } from '../../../src/chunk/index.js'
import { SALT, subsets } from './helpers.js'

const WINDOW = 16
/** Chi-square critical value for 255 degrees of freedom at p = 1e-4 (Wilson–Hilferty: 347.8). */
const CHI2_CRITICAL = 350

function windowsOf (plain: Uint8Array): Set<string> {
  const set = new Set<string>()
  const text = Buffer.from(plain.buffer, plain.byteOffset, plain.length).toString('latin1')
  for (let i = 0; i + WINDOW <= text.length; i++) set.add(text.slice(i, i + WINDOW))
  return set
}

/** Offset of the first plaintext window found in `bytes`, or -1. */
function findWindow (bytes: Uint8Array, windows: Set<string>): number {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1')
  for (let i = 0; i + WINDOW <= text.length; i++) if (windows.has(text.slice(i, i + WINDOW))) return i
  return -1
}

function chiSquare (bytes: Uint8Array): number {
  const counts = new Float64Array(256)
  for (const b of bytes) counts[b]++
  const expected = bytes.length / 256
  let sum = 0
  for (const c of counts) sum += (c - expected) ** 2 / expected
  return sum
}

function textStripe (length: number): Uint8Array {
  const line = new TextEncoder().encode('Dear diary, today the banana protocol stored my tax return. ')
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = line[i % line.length]
  return out
}

/** Plain systematic RS without CAONT: the plaintext cut into k shards plus parity. */
function plainRs (plain: Uint8Array, k: number, n: number): Uint8Array[] {
  const size = Math.ceil(plain.length / k)
  const data = Array.from({ length: k }, (_, i) => { const s = new Uint8Array(size); s.set(plain.subarray(i * size, (i + 1) * size)); return s })
  return [...data, ...reedSolomonCodec().encode(data, n - k)]
}

const PLAINTEXTS: Array<[string, Uint8Array]> = [
  ['repeated text', textStripe(256 * 1024)],
  ['zero-filled stripe', new Uint8Array(256 * 1024)]
]

describe('privacy below k', () => {
  for (const [what, plain] of PLAINTEXTS) {
    const windows = windowsOf(plain)
    for (const [k, n] of [[2, 3], [4, 6], [3, 5]]) {
      it(`${what}, ${k}-of-${n}: no k − 1 fragments hold a ${WINDOW}-byte window; shards look uniform`, () => {
        const e = encodeStripe(plain, { k, n }, SALT)
        for (const use of subsets(n, k - 1)) {
          // Each fragment alone, and the fragments of the subset back to back (windows across the seams).
          const joined = Buffer.concat(use.map(i => e.fragments[i].bytes))
          assert.equal(findWindow(joined, windows), -1, `fragments [${use.join(',')}] contain plaintext`)
        }
        for (const f of e.fragments) {
          const x2 = chiSquare(f.bytes.subarray(HEADER_LENGTH_BYTES))
          assert.ok(x2 < CHI2_CRITICAL, `fragment ${f.index}: chi-square ${x2.toFixed(1)} ≥ ${CHI2_CRITICAL}`)
        }
      })
    }

    it(`${what}: the control (plain RS, no transform) fails both tests`, () => {
      const shards = plainRs(plain, 4, 6)
      assert.ok(findWindow(shards[0], windows) >= 0, 'a data shard of plain RS holds plaintext')
      assert.ok(chiSquare(shards[0]) > CHI2_CRITICAL, 'a data shard of plain RS is far from uniform')
    })
  }
})
