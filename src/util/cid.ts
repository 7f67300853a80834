/**
 * Content addressing shared by chunk (which names fragments) and store/net (which verify them):
 * CIDv1, raw codec, sha256 multihash, computed with node:crypto.
 */
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import * as raw from 'multiformats/codecs/raw'

/** sha2-256 multihash code. */
export const SHA256_CODE = 0x12

/** The CIDv1 (raw, sha256) of `bytes`. */
export function cidOf (bytes: Uint8Array): CID {
  const hash = createHash('sha256').update(bytes).digest()
  return CID.createV1(raw.code, Digest.create(SHA256_CODE, hash))
}

/** True when `bytes` hash to `cid` (raw codec, sha256 only: anything else is not a PALM fragment). */
export function matchesCid (cid: CID, bytes: Uint8Array): boolean {
  if (cid.version !== 1 || cid.code !== raw.code || cid.multihash.code !== SHA256_CODE) return false
  const hash = createHash('sha256').update(bytes).digest()
  const expected = cid.multihash.digest
  if (expected.length !== hash.length) return false
  for (let i = 0; i < hash.length; i++) if (hash[i] !== expected[i]) return false
  return true
}

/** Parses a CID string; InvalidArgument-style failures are the caller's to map. */
export function parseCid (text: string): CID {
  return CID.parse(text)
}

export { CID }
