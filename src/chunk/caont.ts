/**
 * CAONT (convergent all-or-nothing transform, Li, Qin & Lee, USENIX ATC 2015) on node:crypto, with
 * H the format version's hash (SHA-256 in version 1, BLAKE3 in version 2: `code`, a multihash code):
 *
 *   h = H(salt ‖ stripe)                  convergent key: same stripe + salt → same package
 *   C = (stripe ‖ 0^pad) ⊕ AES-256-CTR(key = h, iv = 0)
 *   t = h ⊕ H(C)                          package = C ‖ t, exactly k · shardLength bytes
 *
 * The pad (0 … k-1 bytes, so the package cuts into k equal shards) is encrypted too: no shard holds
 * bytes that are known in advance. Without all of C and t, h and therefore the stripe stay unknown.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { hasherFor } from '../util/digest.js'
import { TAG_LENGTH_BYTES } from './constants.js'

const IV = new Uint8Array(16)
const ZEROS = new Uint8Array(256)

/** h = H(salt ‖ stripe), 32 bytes, H the hash of multihash `code`. */
export function stripeKey (salt: Uint8Array, stripe: Uint8Array, code: number): Uint8Array {
  return hasherFor(code).update(salt).update(stripe).digest()
}

/**
 * The cipher runs over at most this many bytes per call. Node returns each call's output in a new
 * buffer; one 4 MiB output is 1,024 fresh pages, which cost 13 ms of CPU here against 1 ms for the
 * same bytes in 64 KiB pieces, whose buffers the allocator hands out again at once
 * (docs/performance.md, "malloc").
 */
export const CIPHER_PIECE_BYTES = 64 * 1024

/** Writes pieces one after another across the equal-length `shards` (the package layout). */
class Scatter {
  readonly #shards: Uint8Array[]
  #s = 0
  #at = 0

  constructor (shards: Uint8Array[]) {
    this.#shards = shards
  }

  write (piece: Uint8Array): void {
    while (piece.length > 0) {
      const shard = this.#shards[this.#s]
      const take = Math.min(shard.length - this.#at, piece.length)
      shard.set(piece.subarray(0, take), this.#at)
      piece = piece.subarray(take)
      this.#at += take
      if (this.#at === shard.length) { this.#s++; this.#at = 0 }
    }
  }
}

/**
 * Writes the package `C ‖ t` of `stripe` into the k data shards (equal lengths whose sum is
 * stripe length + pad + 32). C is enciphered, hashed and placed a piece at a time. `code`: the
 * multihash code of the format version's hash.
 */
export function sealPackage (stripe: Uint8Array, salt: Uint8Array, dataShards: Uint8Array[], code: number): void {
  const total = dataShards.reduce((sum, s) => sum + s.length, 0)
  const pad = total - TAG_LENGTH_BYTES - stripe.length
  const h = stripeKey(salt, stripe, code)
  const cipher = createCipheriv('aes-256-ctr', h, IV)
  const hashC = hasherFor(code)
  const out = new Scatter(dataShards)
  const put = (piece: Uint8Array): void => {
    const c = cipher.update(piece)
    hashC.update(c)
    out.write(c)
  }
  for (let at = 0; at < stripe.length; at += CIPHER_PIECE_BYTES) put(stripe.subarray(at, at + CIPHER_PIECE_BYTES))
  if (pad > 0) put(ZEROS.subarray(0, pad))
  const t = hashC.digest()
  for (let i = 0; i < TAG_LENGTH_BYTES; i++) t[i] ^= h[i]
  out.write(t)
}

/**
 * Inverts sealPackage (with the same hash `code`) on the contiguous package. Returns the stripe (written into `into` when
 * given, of exactly the stripe's size, else a fresh buffer, which the pool transfers to the caller
 * without a copy), or undefined when the package does not decode to a stripe that hashes to its own
 * key: then some shard was corrupt, forged or from another stripe, or the salt is not the one that
 * sealed it (and `into` holds garbage).
 */
export function openPackage (pkg: Uint8Array, stripeLength: number, salt: Uint8Array, code: number, into?: Uint8Array): Uint8Array | undefined {
  const bodyLength = pkg.length - TAG_LENGTH_BYTES
  if (bodyLength < stripeLength) return undefined
  const body = pkg.subarray(0, bodyLength)
  const h = hasherFor(code).update(body).digest()
  for (let i = 0; i < TAG_LENGTH_BYTES; i++) h[i] ^= pkg[bodyLength + i]
  const decipher = createDecipheriv('aes-256-ctr', h, IV)
  const stripe = into ?? new Uint8Array(stripeLength)
  if (stripe.length !== stripeLength) throw new RangeError(`a ${stripeLength}-byte stripe cannot be opened into ${stripe.length} bytes`)
  for (let at = 0; at < stripeLength; at += CIPHER_PIECE_BYTES) stripe.set(decipher.update(body.subarray(at, Math.min(stripeLength, at + CIPHER_PIECE_BYTES))), at)
  const pad = decipher.update(body.subarray(stripeLength))
  for (let i = 0; i < pad.length; i++) if (pad[i] !== 0) return undefined
  const check = stripeKey(salt, stripe, code)
  let diff = 0
  for (let i = 0; i < TAG_LENGTH_BYTES; i++) diff |= check[i] ^ h[i]
  return diff === 0 ? stripe : undefined
}
