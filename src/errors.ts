/**
 * The only errors PALM throws. Each has a stable `name` and `code` (an errno name); `fuse/errno.ts`
 * maps codes to negative errno numbers in one place. Messages are for people: they name the file,
 * the peer and what to do. Tests assert `name`/`code`, never the message text.
 */

export type ErrorCode =
  | 'ENOENT' | 'EEXIST' | 'ENOTDIR' | 'EISDIR' | 'ENOTEMPTY' | 'ENAMETOOLONG' | 'EBADF'
  | 'EACCES' | 'EPERM' | 'EROFS' | 'ENOSPC' | 'EDQUOT' | 'EINVAL' | 'EIO' | 'EINTR'
  | 'ETIMEDOUT' | 'ENODATA' | 'ERANGE' | 'EFBIG' | 'EOPNOTSUPP' | 'EMLINK' | 'EBUSY'
  | 'EXDEV' | 'E2BIG' | 'ELOOP' | 'ENOTCONN'

export interface PalmErrorOptions {
  cause?: unknown
  /** Machine-readable context: file path, peer id, CID, ... (shown with DEBUG and in JSON output). */
  details?: Record<string, unknown>
}

export class PalmError extends Error {
  readonly code: ErrorCode
  readonly details: Record<string, unknown>

  constructor (message: string, code: ErrorCode, options: PalmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'PalmError'
    this.code = code
    this.details = options.details ?? {}
  }
}

function define (name: string, code: ErrorCode): new (message: string, options?: PalmErrorOptions) => PalmError {
  const Cls = class extends PalmError {
    constructor (message: string, options?: PalmErrorOptions) {
      super(message, code, options)
      this.name = name
    }
  }
  Object.defineProperty(Cls, 'name', { value: name })
  return Cls
}

export const NotFoundError = define('NotFoundError', 'ENOENT')
export const ExistsError = define('ExistsError', 'EEXIST')
export const NotDirectoryError = define('NotDirectoryError', 'ENOTDIR')
export const IsDirectoryError = define('IsDirectoryError', 'EISDIR')
export const NotEmptyError = define('NotEmptyError', 'ENOTEMPTY')
export const NameTooLongError = define('NameTooLongError', 'ENAMETOOLONG')
export const BadHandleError = define('BadHandleError', 'EBADF')
/** Access denied by mode bits (EACCES). */
export const PermissionError = define('PermissionError', 'EACCES')
/** Operation not permitted for this caller (EPERM), e.g. chown by a non-owner. */
export const NotPermittedError = define('NotPermittedError', 'EPERM')
export const ReadOnlyError = define('ReadOnlyError', 'EROFS')
/** The pool (or this device, alone) cannot take the data: ENOSPC to applications. */
export const NoSpaceError = define('NoSpaceError', 'ENOSPC')
/** One device's configured capacity would be exceeded. Placement turns it into NoSpace when no device can take a fragment. */
export const QuotaExceededError = define('QuotaExceededError', 'EDQUOT')
export const InvalidArgumentError = define('InvalidArgumentError', 'EINVAL')
export const IntegrityError = define('IntegrityError', 'EIO')
/** An I/O failure below that is not one of the kinds above (EIO); `cause` holds the original. */
export const IoError = define('IoError', 'EIO')
export const AbortedError = define('AbortedError', 'EINTR')
export const TimeoutError = define('TimeoutError', 'ETIMEDOUT')
export const NoDataError = define('NoDataError', 'ENODATA')
export const RangeTooSmallError = define('RangeTooSmallError', 'ERANGE')
export const FileTooBigError = define('FileTooBigError', 'EFBIG')
export const NotSupportedError = define('NotSupportedError', 'EOPNOTSUPP')
export const TooManyLinksError = define('TooManyLinksError', 'EMLINK')
export const BusyError = define('BusyError', 'EBUSY')
export const InvalidConfigError = define('InvalidConfigError', 'EINVAL')
/** A value too large for its slot (E2BIG), e.g. an extended attribute value over 64 KiB. */
export const ValueTooBigError = define('ValueTooBigError', 'E2BIG')
/** A protocol peer sent something malformed, oversized or unexpected. */
export const ProtocolError = define('ProtocolError', 'EIO')
/** The daemon is not running or cannot be reached (CLI). */
export const NotConnectedError = define('NotConnectedError', 'ENOTCONN')

/** Fewer than `k` fragments of a stripe could be had: EIO, with what was found and from whom. */
export class FragmentsUnavailableError extends PalmError {
  readonly found: number
  readonly needed: number
  /** Peers (device ids or names) that were asked and failed or were missing. */
  readonly peers: string[]

  constructor (message: string, init: { found: number, needed: number, peers?: string[] } & PalmErrorOptions) {
    super(message, 'EIO', init)
    this.name = 'FragmentsUnavailableError'
    this.found = init.found
    this.needed = init.needed
    this.peers = init.peers ?? []
  }
}

export function isPalmError (err: unknown): err is PalmError {
  return err instanceof PalmError
}

/** The error's `code` if it is a PalmError or a Node system error, else undefined. */
export function errorCode (err: unknown): string | undefined {
  if (err != null && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code
  return undefined
}
