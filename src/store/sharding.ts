/**
 * Where a large fragment's file lives: `fragments/<shard>/<cid>`, the shard being the two
 * characters before the last of the CID's base32 text (the last one carries only 3 bits). One
 * level of 1024 directories measured fastest for puts (docs/store.md).
 */
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { SHARD_CHARS } from './constants.js'

/** The shard directory name of a CID string. */
export function shardOf (cidText: string): string {
  return cidText.slice(-1 - SHARD_CHARS, -1)
}

/** Absolute path of the fragment file of `cidText` under `fragmentsDir`. */
export function fragmentFile (fragmentsDir: string, cidText: string): string {
  return join(fragmentsDir, shardOf(cidText), cidText)
}

/** The CID a fragment file name stands for, or undefined for a name that is not one (ignored by scans). */
export function cidOfFileName (name: string, shard?: string): CID | undefined {
  if (shard != null && shardOf(name) !== shard) return undefined
  try {
    const cid = CID.parse(name)
    return cid.toString() === name ? cid : undefined
  } catch {
    return undefined
  }
}
