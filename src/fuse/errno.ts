/**
 * The only map from errors to errno. A PalmError gives its code's negative constant; a Node system
 * error with a known code passes through; anything else is logged with its stack and becomes EIO.
 * Never ENOENT or ENOSYS by default (the mistakes of hyperdrive-fuse and websocketfs).
 */
import { constants } from 'node:os'
import type { Logger } from '@libp2p/interface'
import { errorCode, isPalmError } from '../errors.js'

const ERRNO = constants.errno as Record<string, number>
const EIO = ERRNO.EIO

/** Negative errno for `err`. Unknown errors are logged (with `what()`, e.g. "write /a/b", built only then) and become -EIO. */
export function toErrno (err: unknown, log?: Logger, what?: () => string): number {
  const code = errorCode(err)
  if (code != null) {
    const n = ERRNO[code]
    if (typeof n === 'number') return -n
  }
  if (log != null) {
    if (isPalmError(err)) log.error('%s failed with unmappable code %s: %e', what?.() ?? 'operation', (err as any).code, err)
    else log.error('%s failed unexpectedly: %e', what?.() ?? 'operation', err)
  }
  return -EIO
}

/** The errno name for a negative (or positive) errno number, for logs: -2 → "ENOENT". */
export function errnoName (errno: number): string {
  const n = Math.abs(errno)
  for (const [name, value] of Object.entries(ERRNO)) if (value === n) return name
  return `E${n}`
}
