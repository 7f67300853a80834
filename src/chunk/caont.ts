/**
 * CAONT (convergent all-or-nothing transform, Li, Qin & Lee, USENIX ATC 2015) on node:crypto:
 *
 *   h = SHA-256(salt ‖ stripe)            convergent key: same stripe + salt → same package
 *   C = (stripe ‖ 0^pad) ⊕ AES-256-CTR(key = h, iv = 0)
 *   t = h ⊕ SHA-256(C)                    package = C ‖ t, exactly k · shardLength bytes
 *
 * The pad (0 … k-1 bytes, so the package cuts into k equal shards) is encrypted too: no shard holds
 * bytes that are known in advance. Without all of C and t, h and therefore the stripe stay unknown.
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto'
import { TAG_LENGTH_BYTES } from './constants.js'

const IV = new Uint8Array(16)
const ZEROS = new Uint8Array(256)

/** h = SHA-256(salt ‖ stripe), 32 bytes. */
export function stripeKey (salt: Uint8Array, stripe: Uint8Array): Uint8Array {
  return createHash('sha256').update(salt).update(stripe).digest()
}

/** Copies `pieces` one after another across the equal-length `shards` (the package layout). */
function scatter (pieces: Uint8Array[], shards: Uint8Array[]): void {
  let s = 0
  let at = 0
  for (let piece of pieces) {
    while (piece.length > 0) {
      const room = shards[s].length - at
      const take = Math.min(room, piece.length)
      shards[s].set(piece.subarray(0, take), at)
      piece = piece.subarray(take)
      at += take
      if (at === shards[s].length) { s++; at = 0 }
    }
  }
}

/**
 * Writes the package `C ‖ t` of `stripe` into the k data shards (equal lengths whose sum is
 * stripe length + pad + 32).
 */
export function sealPackage (stripe: Uint8Array, salt: Uint8Array, dataShards: Uint8Array[]): void {
  const total = dataShards.reduce((sum, s) => sum + s.length, 0)
  const pad = total - TAG_LENGTH_BYTES - stripe.length
  const h = stripeKey(salt, stripe)
  const cipher = createCipheriv('aes-256-ctr', h, IV)
  const body = cipher.update(stripe)
  const padBody = pad > 0 ? cipher.update(ZEROS.subarray(0, pad)) : ZEROS.subarray(0, 0)
  const t = createHash('sha256').update(body).update(padBody).digest()
  for (let i = 0; i < TAG_LENGTH_BYTES; i++) t[i] ^= h[i]
  scatter([body, padBody, t], dataShards)
}

/**
 * Inverts sealPackage on the contiguous package. Returns the stripe (a view of a fresh buffer), or
 * undefined when the package does not decode to a stripe that hashes to its own key: then some
 * shard was corrupt, forged or from another stripe, or the salt is not the one that sealed it.
 */
export function openPackage (pkg: Uint8Array, stripeLength: number, salt: Uint8Array): Uint8Array | undefined {
  const bodyLength = pkg.length - TAG_LENGTH_BYTES
  if (bodyLength < stripeLength) return undefined
  const body = pkg.subarray(0, bodyLength)
  const h = createHash('sha256').update(body).digest()
  for (let i = 0; i < TAG_LENGTH_BYTES; i++) h[i] ^= pkg[bodyLength + i]
  // Stripe and pad deciphered apart, so the stripe gets a buffer of its own, exactly its size (the
  // pool transfers it to the caller without a copy).
  const decipher = createDecipheriv('aes-256-ctr', h, IV)
  const plain = decipher.update(body.subarray(0, stripeLength))
  const pad = decipher.update(body.subarray(stripeLength))
  for (let i = 0; i < pad.length; i++) if (pad[i] !== 0) return undefined
  const stripe = new Uint8Array(plain.buffer, plain.byteOffset, stripeLength)
  const check = stripeKey(salt, stripe)
  let diff = 0
  for (let i = 0; i < TAG_LENGTH_BYTES; i++) diff |= check[i] ^ h[i]
  return diff === 0 ? stripe : undefined
}
