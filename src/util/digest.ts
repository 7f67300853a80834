/**
 * The two hashes of the fragment format (docs/chunk-format.md, "Format versions"), by multihash
 * code: SHA-256 (node:crypto, version 1) and BLAKE3 (the Rust crate through @napi-rs/blake-hash,
 * version 2). Here BLAKE3 hashes ~7.9 GB/s on one core against SHA-256's ~1.7 GB/s (SHA-NI), and
 * every stripe is hashed 3.5 times on its way in and 3 times on its way out.
 */
import { createHash } from 'node:crypto'
import { Blake3Hasher, blake3 } from '@napi-rs/blake-hash'

/** sha2-256 multihash code. */
export const SHA256_CODE = 0x12

/** blake3 multihash code (32-byte digests). */
export const BLAKE3_CODE = 0x1e

/**
 * An incremental 32-byte hash. The bytes given to `update` must stay as they are until `digest`:
 * a small BLAKE3 input is hashed there, in one call.
 */
export interface Hasher {
  update: (bytes: Uint8Array) => Hasher
  digest: () => Uint8Array
}

/** True for a multihash code a PALM fragment may be named with. */
export function isFragmentHashCode (code: number): boolean {
  return code === SHA256_CODE || code === BLAKE3_CODE
}

/** A new incremental hasher for `code` (SHA256_CODE or BLAKE3_CODE). */
export function hasherFor (code: number): Hasher {
  if (code === SHA256_CODE) {
    const h = createHash('sha256')
    const self: Hasher = { update: bytes => { h.update(bytes); return self }, digest: () => h.digest() }
    return self
  }
  if (code === BLAKE3_CODE) return new Blake3
  throw new RangeError(`multihash code 0x${code.toString(16)} is not a fragment hash`)
}

/**
 * Up to this many bytes, BLAKE3 is one native call at digest time: a native hasher object costs
 * ~8 µs to make, more than hashing a small file's stripe (4 KiB: ~1.5 µs).
 */
const BLAKE3_ONE_CALL_BYTES = 64 * 1024

/** Incremental BLAKE3: small inputs kept (not copied) and hashed in one call; larger ones streamed. */
class Blake3 implements Hasher {
  #parts: Uint8Array[] = []
  #bytes = 0
  #native: Blake3Hasher | undefined

  update (bytes: Uint8Array): this {
    if (this.#native === undefined && this.#bytes + bytes.length <= BLAKE3_ONE_CALL_BYTES) {
      this.#parts.push(bytes)
      this.#bytes += bytes.length
      return this
    }
    if (this.#native === undefined) {
      this.#native = new Blake3Hasher()
      for (const p of this.#parts) this.#native.update(p)
      this.#parts = []
    }
    this.#native.update(bytes)
    return this
  }

  digest (): Uint8Array {
    if (this.#native !== undefined) return this.#native.digestBuffer()
    return blake3(this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts, this.#bytes))
  }
}

/** The 32-byte digest of `bytes` under `code`. Views of shared memory are fine for both. */
export function digestFor (code: number, bytes: Uint8Array): Uint8Array {
  if (code === BLAKE3_CODE) return blake3(bytes)
  if (code === SHA256_CODE) return createHash('sha256').update(bytes).digest()
  throw new RangeError(`multihash code 0x${code.toString(16)} is not a fragment hash`)
}
