/**
 * The fragment header (16 bytes, the same in versions 1 and 2; docs/chunk-format.md):
 *
 *   0..3   magic "PLMF"        4  format version (1, 2) 5  codec id
 *   6      k                   7  n                    8  fragment index (0 … n-1)
 *   9..11  reserved, zero      12..15  stripe length in bytes (uint32, big-endian)
 *
 * followed by the shard: `ceil((stripe length + 32) / k)` bytes.
 */
import { IntegrityError } from '../errors.js'
import { FORMAT_V1_SHA256, FORMAT_V2_BLAKE3, FRAGMENT_MAGIC, HEADER_LENGTH_BYTES, MAX_FRAGMENTS, MAX_STRIPE_SIZE_BYTES, TAG_LENGTH_BYTES } from './constants.js'
import type { FragmentHeader } from './types.js'
import { isKnownVersion } from './version.js'

/** Shard length in bytes of a stripe of `stripeLength` bytes cut into `k` data shards. */
export function shardLengthFor (stripeLength: number, k: number): number {
  return Math.ceil((stripeLength + TAG_LENGTH_BYTES) / k)
}

/** Whole fragment length in bytes (header + shard). */
export function fragmentLengthFor (stripeLength: number, k: number): number {
  return HEADER_LENGTH_BYTES + shardLengthFor(stripeLength, k)
}

/** What a new fragment's header says. */
export type HeaderFields = Pick<FragmentHeader, 'version' | 'codecId' | 'k' | 'n' | 'index' | 'stripeLength'>

/** Writes the header into the first HEADER_LENGTH_BYTES of `target` (fields already validated). */
export function writeHeader (target: Uint8Array, h: HeaderFields): void {
  target.set(FRAGMENT_MAGIC, 0)
  target[4] = h.version
  target[5] = h.codecId
  target[6] = h.k
  target[7] = h.n
  target[8] = h.index
  target[9] = 0
  target[10] = 0
  target[11] = 0
  new DataView(target.buffer, target.byteOffset, HEADER_LENGTH_BYTES).setUint32(12, h.stripeLength, false)
}

/**
 * Reads and checks a fragment's header and that its length fits it. Throws IntegrityError (naming
 * `name`, e.g. "fragment 3" or a CID) for anything that is not a well-formed fragment of a known version:
 * short, bad magic, unknown version, non-zero reserved bytes, impossible k/n/index, or truncated.
 */
export function parseFragmentHeader (bytes: Uint8Array, name = 'fragment'): FragmentHeader {
  const bad = (why: string): never => {
    throw new IntegrityError(`${name} is not a valid PALM fragment: ${why}; discard it and fetch it again from another peer`, { details: { fragment: name } })
  }
  if (!(bytes instanceof Uint8Array)) throw bad('it is not a byte array')
  if (bytes.length < HEADER_LENGTH_BYTES) bad(`it is ${bytes.length} bytes, shorter than the ${HEADER_LENGTH_BYTES}-byte header`)
  for (let i = 0; i < FRAGMENT_MAGIC.length; i++) if (bytes[i] !== FRAGMENT_MAGIC[i]) bad('wrong magic bytes')
  const version = bytes[4]
  if (!isKnownVersion(version)) bad(`format version ${version} is unknown (this palm reads versions ${FORMAT_V1_SHA256} and ${FORMAT_V2_BLAKE3}; a newer palm may read it)`)
  const codecId = bytes[5]
  const k = bytes[6]
  const n = bytes[7]
  const index = bytes[8]
  if (bytes[9] !== 0 || bytes[10] !== 0 || bytes[11] !== 0) bad('reserved header bytes are not zero')
  if (k < 1 || k > n || n > MAX_FRAGMENTS) bad(`k=${k}, n=${n} break 1 ≤ k ≤ n ≤ ${MAX_FRAGMENTS}`)
  if (index >= n) bad(`index ${index} is not below n=${n}`)
  const stripeLength = new DataView(bytes.buffer, bytes.byteOffset, HEADER_LENGTH_BYTES).getUint32(12, false)
  if (stripeLength > MAX_STRIPE_SIZE_BYTES) bad(`stripe length ${stripeLength} exceeds the ${MAX_STRIPE_SIZE_BYTES}-byte limit`)
  const shardLength = shardLengthFor(stripeLength, k)
  if (bytes.length !== HEADER_LENGTH_BYTES + shardLength) {
    bad(`it is ${bytes.length} bytes but its header calls for ${HEADER_LENGTH_BYTES + shardLength} (truncated or padded)`)
  }
  return { version, codecId, k, n, index, stripeLength, shardLength, headerLength: HEADER_LENGTH_BYTES }
}
