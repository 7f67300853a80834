/**
 * Errors that name the file: a PalmError from below (place, chunk, store, meta) keeps its class
 * and code, and its message is prefixed once with the file's path so the user knows which file.
 */
import { IoError, PalmError } from '../errors.js'

/** A PalmError about `path`; non-PalmErrors become IoError (EIO) with the original as cause. */
export function fileError (err: unknown, path: string, action: string): PalmError {
  if (err instanceof PalmError) {
    // Lower layers may have named the file by a cheap label ("inode 12"): name it by its path.
    if (err.details.file !== path) {
      err.details.file = path
      err.message = `${action} ${path}: ${err.message}`
    }
    return err
  }
  const msg = err instanceof Error ? err.message : String(err)
  return new IoError(`${action} ${path} failed: ${msg}; check the daemon log (DEBUG=palm:*) and retry`, { cause: err, details: { file: path } })
}
