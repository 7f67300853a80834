/**
 * Content addressing shared by chunk (which names fragments) and store/net (which verify them):
 * CIDv1, raw codec, with a sha256 (fragment format version 1) or blake3 (version 2) multihash.
 */
import { webcrypto } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import * as raw from 'multiformats/codecs/raw'
import { BLAKE3_CODE, SHA256_CODE, digestFor, isFragmentHashCode } from './digest.js'

export { BLAKE3_CODE, SHA256_CODE }

/**
 * The CIDv1 (raw) of `bytes` with the multihash `code`: BLAKE3_CODE (the default, what fragments of
 * the format this palm writes are named by) or SHA256_CODE (fragment format version 1).
 */
export function cidOf (bytes: Uint8Array, code: number = BLAKE3_CODE): CID {
  return CID.createV1(raw.code, Digest.create(code, digestFor(code, bytes)))
}

/**
 * Byte arrays this process hashed itself, by identity, with their CID: the fragments the chunk
 * layer just encoded and the ones the store just verified. A fragment of a 4 MiB stripe is 1 MiB,
 * so hashing it again on the next hand-over (encode → store put, store get → decode) costs the
 * event loop about half a millisecond each time for nothing. Weak: no memory is held.
 */
const hashed = new WeakMap<Uint8Array, CID>()

/**
 * Records that `bytes` hash to `cid`, computed by this process from these very bytes. Only for
 * arrays nobody writes to afterwards (encoded fragments, bytes read and verified): matchesCid then
 * answers from memory for this array object (a copy or another view is hashed as usual).
 */
export function markHashed (bytes: Uint8Array, cid: CID): void {
  hashed.set(bytes, cid)
}

/** True when `bytes` is an array this process hashed to `cid` (see markHashed). */
export function isHashed (bytes: Uint8Array, cid: CID): boolean {
  const known = hashed.get(bytes)
  return known != null && known.equals(cid)
}

/** True when `bytes` hash to `cid` (raw codec, sha256 or blake3: anything else is not a PALM fragment). */
export function matchesCid (cid: CID, bytes: Uint8Array): boolean {
  if (!isFragmentCid(cid)) return false
  if (isHashed(bytes, cid)) return true
  return digestIs(cid, digestFor(cid.multihash.code, bytes))
}

/** A CIDv1, raw codec, sha256 or blake3 multihash: the only kinds a PALM fragment has. */
function isFragmentCid (cid: CID): boolean {
  return cid.version === 1 && cid.code === raw.code && isFragmentHashCode(cid.multihash.code)
}

/** True when `hash` is the digest `cid` names. */
function digestIs (cid: CID, hash: Uint8Array): boolean {
  const expected = cid.multihash.digest
  if (expected.length !== hash.length) return false
  for (let i = 0; i < hash.length; i++) if (hash[i] !== expected[i]) return false
  return true
}

/** Inputs at least this large are hashed on the libuv threadpool by matchesCidAsync. */
const ASYNC_HASH_MIN_BYTES = 64 * 1024

/**
 * matchesCid without holding the event loop: large inputs named by SHA-256 (a 1 MiB fragment costs
 * ~0.6 ms) are hashed on the threadpool (WebCrypto digest); small ones here, and BLAKE3 ones too
 * (~0.13 ms per MiB, and WebCrypto has no BLAKE3).
 */
export async function matchesCidAsync (cid: CID, bytes: Uint8Array): Promise<boolean> {
  // WebCrypto refuses views of shared memory (SharedArrayBuffer): those are hashed here.
  if (bytes.byteLength < ASYNC_HASH_MIN_BYTES || cid.multihash.code !== SHA256_CODE || isHashed(bytes, cid) || bytes.buffer instanceof SharedArrayBuffer) return matchesCid(cid, bytes)
  if (!isFragmentCid(cid)) return false
  return digestIs(cid, new Uint8Array(await webcrypto.subtle.digest('SHA-256', bytes)))
}

/** Parses a CID string; InvalidArgument-style failures are the caller's to map. */
export function parseCid (text: string): CID {
  return CID.parse(text)
}

export { CID }
