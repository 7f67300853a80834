/**
 * Which hash each fragment format version uses (docs/chunk-format.md, "Format versions"). A
 * fragment says its version in header byte 4; a manifest's CIDs say it in their multihash code.
 */
import { NotSupportedError } from '../errors.js'
import { BLAKE3_CODE, SHA256_CODE } from '../util/digest.js'
import type { CID } from '../util/cid.js'
import { FORMAT_V1_SHA256, FORMAT_V2_BLAKE3 } from './constants.js'

/** True for a format version this palm reads. */
export function isKnownVersion (version: number): boolean {
  return version === FORMAT_V1_SHA256 || version === FORMAT_V2_BLAKE3
}

/** The multihash code of `version`'s hash (its CAONT key and tag, and its fragments' CIDs). */
export function hashCodeOf (version: number): number {
  if (version === FORMAT_V2_BLAKE3) return BLAKE3_CODE
  if (version === FORMAT_V1_SHA256) return SHA256_CODE
  throw new NotSupportedError(`fragment format version ${version} is unknown to this palm (it reads ${FORMAT_V1_SHA256} and ${FORMAT_V2_BLAKE3}); upgrade palm to read these fragments`, { details: { version } })
}

/** The format version whose fragments are named like `cid`, or undefined for a CID no fragment has. */
export function versionOfCid (cid: CID): number | undefined {
  const code = cid.multihash.code
  if (code === BLAKE3_CODE) return FORMAT_V2_BLAKE3
  if (code === SHA256_CODE) return FORMAT_V1_SHA256
  return undefined
}
