/**
 * Constants of the chunk layer and of the fragment format (docs/chunk-format.md). Changing any
 * value that shapes bytes (magic, version, header layout, tag length) is a format change: bump
 * FORMAT_VERSION and regenerate the golden vectors in fixtures/chunk/.
 */

/**
 * Fragment format version 1: SHA-256 for the CAONT key, the tag and the fragment CIDs. Still read
 * (and repaired) as it was written; no longer written for new stripes.
 */
export const FORMAT_V1_SHA256 = 1

/**
 * Fragment format version 2: version 1 with BLAKE3 in place of SHA-256 for the CAONT key and tag
 * and the fragment CIDs (docs/chunk-format.md, "Format versions"): the same bytes hash ~4.7 times
 * faster here. (The stripe id, a hash of the CIDs, stays SHA-256.)
 */
export const FORMAT_V2_BLAKE3 = 2

/** Version of the fragment format written by this code (header byte 4). */
export const FORMAT_VERSION = FORMAT_V2_BLAKE3

/** First four bytes of every fragment: ASCII "PLMF" (PaLM Fragment). */
export const FRAGMENT_MAGIC = Uint8Array.of(0x50, 0x4c, 0x4d, 0x46)

/** Size of the fragment header in bytes (versions 1 and 2). */
export const HEADER_LENGTH_BYTES = 16

/** Length of the CAONT tag `t = h ⊕ H(C)` appended to the package, in bytes. */
export const TAG_LENGTH_BYTES = 32

/**
 * Default stripe size in bytes: 4 MiB. Chosen from bench/chunk.bench.ts (see docs/chunk-format.md):
 * throughput per stripe is flat from 1 to 4 MiB, so the larger stripe wins on fewer fragments,
 * round trips and manifest entries per file.
 */
export const DEFAULT_STRIPE_SIZE_BYTES = 4 * 1024 * 1024

/**
 * Largest stripe the layer accepts, in bytes (64 MiB, the most config/load.ts allows for the stripe
 * size). Bounds worker memory: an encode job holds about 3.5 × the stripe (input, ciphertext, fragments).
 */
export const MAX_STRIPE_SIZE_BYTES = 64 * 1024 * 1024

/**
 * Stripes up to this size (16 KiB) are encoded and decoded on the calling thread by the chunk pool:
 * posting a job to a worker and taking its reply costs the main thread about 75 µs, as much as
 * encoding 16 KiB inline, and a small file's stripe then takes ~80 µs instead of ~390 µs.
 */
export const INLINE_MAX_STRIPE_BYTES = 16 * 1024

/** Largest `n` (fragments per stripe): one header byte, and GF(2^8) has 256 evaluation points. */
export const MAX_FRAGMENTS = 255

/** Shortest swarm salt accepted, in bytes. Shorter salts would let outsiders confirm guessed files. */
export const MIN_SALT_BYTES = 16

/** Longest swarm salt accepted, in bytes. */
export const MAX_SALT_BYTES = 64

/**
 * Codec id 1: systematic Reed-Solomon over GF(2^8) (polynomial 0x11d, generator 2) with the
 * encoding matrix `V · inverse(top k×k of V)`, V the n×k Vandermonde matrix `V[r][c] = r^c`:
 * the math of the Rust crate reed-solomon-erasure (Backblaze JavaReedSolomon, klauspost/reedsolomon).
 */
export const CODEC_RS_GF256 = 1

/** The codec id written into new fragments. */
export const DEFAULT_CODEC_ID = CODEC_RS_GF256
