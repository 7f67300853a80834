/**
 * verifyFragment: checks one fragment on its own, knowing nothing but its CID (the store, the
 * network and scrub do this for every fragment they touch).
 */
import { IntegrityError } from '../errors.js'
import { matchesCid, type CID } from '../util/cid.js'
import { parseFragmentHeader } from './header.js'
import { toCid } from './validate.js'
import { versionOfCid } from './version.js'
import type { FragmentHeader } from './types.js'

/**
 * Throws IntegrityError unless `bytes` hash to `cid` (CIDv1, raw, sha256 or blake3) and form a well-formed
 * fragment; InvalidArgumentError when `cid` is not a CID. Returns the fragment's header.
 */
export function verifyFragment (cid: CID | string, bytes: Uint8Array): FragmentHeader {
  const c = toCid(cid, 'fragment CID')
  const name = `fragment ${c.toString()}`
  if (!(bytes instanceof Uint8Array) || !matchesCid(c, bytes)) {
    throw new IntegrityError(`${name} does not match its CID (corrupt, truncated, or not a raw sha2-256 or blake3 CID); discard it and fetch it again from another peer`, { details: { cid: c.toString() } })
  }
  const header = parseFragmentHeader(bytes, name)
  if (versionOfCid(c) !== header.version) {
    throw new IntegrityError(`${name} says it is format version ${header.version}, which its CID's hash does not name; discard it and fetch it again from another peer`, { details: { cid: c.toString() } })
  }
  return header
}
