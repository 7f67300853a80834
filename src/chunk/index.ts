/**
 * @packageDocumentation
 * The chunk layer: stripes ↔ fragments. Pure: bytes in, bytes out, no I/O, so it runs in worker
 * threads (createChunkPool) as well as inline.
 *
 * Pipeline (docs/chunk-format.md), H the format version's hash (BLAKE3 in version 2, SHA-256 in
 * version 1): CAONT (h = H(salt ‖ stripe), C = (stripe ‖ pad) ⊕ AES-256-CTR(h), t = h ⊕ H(C)) →
 * `C ‖ t` cut into k data shards → n − k Reed-Solomon parity shards (codec id 1) → each shard
 * behind a 16-byte header → each fragment named by its CIDv1 (raw, multihash of H, src/util/cid.ts).
 *
 * Invariants:
 * - Any k fragments rebuild the stripe; fewer than k reveal nothing about it (all-or-nothing).
 * - Convergent: the same stripe and swarm salt give byte-identical fragments; another salt gives
 *   unrelated ones. The format is versioned and pinned by fixtures/chunk/vectors*.json.
 * - Decoding returns the exact stripe or throws (FragmentsUnavailable, Integrity naming the bad
 *   fragment, InvalidArgument); it never returns wrong bytes.
 * - 1 ≤ k ≤ n ≤ 255; a stripe is 0 … MAX_STRIPE_SIZE_BYTES bytes.
 */
export * from './constants.js'
export type { Policy, Fragment, EncodedStripe, FragmentHeader, StripeExpectation, Codec, ChunkPool, RsEngine, PoolEncodeOptions, PoolDecodeOptions } from './types.js'
export { encodeStripe, stripeIdOf } from './encode.js'
export { decodeStripe, type IndexedFragment } from './decode.js'
export { rebuildFragments } from './rebuild.js'
export { verifyFragment } from './verify.js'
export { hashCodeOf, isKnownVersion, versionOfCid } from './version.js'
export { parseFragmentHeader, shardLengthFor, fragmentLengthFor } from './header.js'
export { codecById, reedSolomonCodec, isKnownCodec, DEFAULT_RS_ENGINE } from './codec.js'
export { createChunkPool, type ChunkPoolInit, type ChunkPoolStats, type WorkerChunkPool } from './pool.js'
