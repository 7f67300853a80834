/**
 * Turns a Node file system error met while storing or reading a fragment into the PalmError a
 * user can act on. ENOSPC/EDQUOT from the disk itself become NoSpaceError (the configured capacity
 * gives QuotaExceededError earlier, in quota.ts).
 */
import {
  IoError, isPalmError, NoSpaceError, PermissionError, ReadOnlyError, errorCode, type PalmError
} from '../errors.js'

/** Wraps `err` (kept as `cause`); `what` says what was being done ("storing fragment bafk… in /x/fragments"). */
export function toStoreError (err: unknown, what: string, details: Record<string, unknown> = {}): PalmError {
  if (isPalmError(err)) return err
  const code = errorCode(err)
  const options = { cause: err, details: { ...details, code } }
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new NoSpaceError(`the disk is full (${code}) while ${what}; free space on that disk or lower this device's capacity`, options)
    case 'EACCES':
    case 'EPERM':
      return new PermissionError(`permission denied (${code}) while ${what}; the store directory must be writable by the user running palm`, options)
    case 'EROFS':
      return new ReadOnlyError(`the file system is read-only (EROFS) while ${what}; remount it read-write`, options)
    default: {
      const message = err instanceof Error ? err.message : String(err)
      return new IoError(`I/O error while ${what}: ${message}; check the disk (dmesg) and run \`palm fsck\``, options)
    }
  }
}

/** True for a Node error with code ENOENT. */
export function isNotFound (err: unknown): boolean {
  return errorCode(err) === 'ENOENT'
}
