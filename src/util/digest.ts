/**
 * The two hashes of the fragment format (docs/chunk-format.md, "Format versions"), by multihash
 * code: SHA-256 (node:crypto, version 1) and BLAKE3 (version 2). Here BLAKE3 hashes ~7.9 GB/s on
 * one core against SHA-256's ~1.7 GB/s (SHA-NI), and every stripe is hashed 3.5 times on its way
 * in and 3 times on its way out.
 *
 * BLAKE3 is the reference Rust crate's, from the prebuilt Linux x64 (glibc) binary of
 * @napi-rs/blake-hash 1.3.6, an optional dependency loaded here by its own package name. Not
 * through the package's front, `@napi-rs/blake-hash`: its 1.3.6 names platform packages the npm
 * registry does not have, and a lock file without them fails `npm ci`; its 1.3.4, which has them
 * all, hashes at 3.2 GB/s here. Elsewhere (or with `PALM_BLAKE3=js`, for tests of that path)
 * @noble/hashes' BLAKE3 in JS gives the same digests, much slower: `blake3Engine()` says which
 * one runs, and the daemon logs it.
 */
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import { blake3 as blake3Js } from '@noble/hashes/blake3.js'

interface NativeBlake3 {
  blake3: (input: Uint8Array) => Uint8Array
  Blake3Hasher: new () => { update: (input: Uint8Array) => unknown, digestBuffer: () => Uint8Array }
}

/** The package of the native binary (installed only on Linux x64 with glibc). */
const NATIVE_PACKAGE = '@napi-rs/blake-hash-linux-x64-gnu'

/** The native binding, or undefined where it has no binary for this platform. */
const native: NativeBlake3 | undefined = (() => {
  if (process.env.PALM_BLAKE3 === 'js' || process.platform !== 'linux' || process.arch !== 'x64') return undefined
  try {
    return createRequire(import.meta.url)(NATIVE_PACKAGE) as NativeBlake3
  } catch {
    return undefined
  }
})()

/** Which BLAKE3 this process runs: 'native' (the Rust crate) or 'js' (@noble/hashes, slower). */
export function blake3Engine (): 'native' | 'js' {
  return native !== undefined ? 'native' : 'js'
}

/** One-shot BLAKE3 of `bytes`, 32 bytes. */
function blake3 (bytes: Uint8Array): Uint8Array {
  return native !== undefined ? native.blake3(bytes) : blake3Js(bytes)
}

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
  if (code === BLAKE3_CODE) return new Blake3()
  throw new RangeError(`multihash code 0x${code.toString(16)} is not a fragment hash`)
}

/**
 * Up to this many bytes, BLAKE3 is one native call at digest time: a native hasher object costs
 * ~8 µs to make, more than hashing a small file's stripe (4 KiB: ~3 µs).
 */
const BLAKE3_ONE_CALL_BYTES = 64 * 1024

/** A streaming BLAKE3 hasher: the native one, or @noble/hashes'. */
interface Blake3Stream { update: (input: Uint8Array) => unknown, digest: () => Uint8Array }

/** Incremental BLAKE3: small inputs kept (not copied) and hashed in one call; larger ones streamed. */
class Blake3 implements Hasher {
  #parts: Uint8Array[] = []
  #bytes = 0
  #stream: Blake3Stream | undefined

  update (bytes: Uint8Array): this {
    if (this.#stream === undefined && this.#bytes + bytes.length <= BLAKE3_ONE_CALL_BYTES) {
      this.#parts.push(bytes)
      this.#bytes += bytes.length
      return this
    }
    if (this.#stream === undefined) {
      this.#stream = streaming()
      for (const p of this.#parts) this.#stream.update(p)
      this.#parts = []
    }
    this.#stream.update(bytes)
    return this
  }

  digest (): Uint8Array {
    if (this.#stream !== undefined) return this.#stream.digest()
    return blake3(this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts, this.#bytes))
  }
}

function streaming (): Blake3Stream {
  if (native === undefined) return blake3Js.create()
  const h = new native.Blake3Hasher()
  return { update: input => h.update(input), digest: () => h.digestBuffer() }
}

/** The 32-byte digest of `bytes` under `code`. Views of shared memory are fine for both. */
export function digestFor (code: number, bytes: Uint8Array): Uint8Array {
  if (code === BLAKE3_CODE) return blake3(bytes)
  if (code === SHA256_CODE) return createHash('sha256').update(bytes).digest()
  throw new RangeError(`multihash code 0x${code.toString(16)} is not a fragment hash`)
}
