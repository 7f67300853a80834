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

/** A PalmError subclass with a fixed name and code; each is exported as a value and, below it, as a type. */
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
export type NotFoundError = InstanceType<typeof NotFoundError>
export const ExistsError = define('ExistsError', 'EEXIST')
export type ExistsError = InstanceType<typeof ExistsError>
export const NotDirectoryError = define('NotDirectoryError', 'ENOTDIR')
export type NotDirectoryError = InstanceType<typeof NotDirectoryError>
export const IsDirectoryError = define('IsDirectoryError', 'EISDIR')
export type IsDirectoryError = InstanceType<typeof IsDirectoryError>
export const NotEmptyError = define('NotEmptyError', 'ENOTEMPTY')
export type NotEmptyError = InstanceType<typeof NotEmptyError>
export const NameTooLongError = define('NameTooLongError', 'ENAMETOOLONG')
export type NameTooLongError = InstanceType<typeof NameTooLongError>
export const BadHandleError = define('BadHandleError', 'EBADF')
export type BadHandleError = InstanceType<typeof BadHandleError>
/** Access denied by mode bits (EACCES). */
export const PermissionError = define('PermissionError', 'EACCES')
export type PermissionError = InstanceType<typeof PermissionError>
/** Operation not permitted for this caller (EPERM), e.g. chown by a non-owner. */
export const NotPermittedError = define('NotPermittedError', 'EPERM')
export type NotPermittedError = InstanceType<typeof NotPermittedError>
export const ReadOnlyError = define('ReadOnlyError', 'EROFS')
export type ReadOnlyError = InstanceType<typeof ReadOnlyError>
/** The pool (or this device, alone) cannot take the data: ENOSPC to applications. */
export const NoSpaceError = define('NoSpaceError', 'ENOSPC')
export type NoSpaceError = InstanceType<typeof NoSpaceError>
/** One device's configured capacity would be exceeded. Placement turns it into NoSpace when no device can take a fragment. */
export const QuotaExceededError = define('QuotaExceededError', 'EDQUOT')
export type QuotaExceededError = InstanceType<typeof QuotaExceededError>
export const InvalidArgumentError = define('InvalidArgumentError', 'EINVAL')
export type InvalidArgumentError = InstanceType<typeof InvalidArgumentError>
export const IntegrityError = define('IntegrityError', 'EIO')
export type IntegrityError = InstanceType<typeof IntegrityError>
/** An I/O failure below that is not one of the kinds above (EIO); `cause` holds the original. */
export const IoError = define('IoError', 'EIO')
export type IoError = InstanceType<typeof IoError>
export const AbortedError = define('AbortedError', 'EINTR')
export type AbortedError = InstanceType<typeof AbortedError>
export const TimeoutError = define('TimeoutError', 'ETIMEDOUT')
export type TimeoutError = InstanceType<typeof TimeoutError>
export const NoDataError = define('NoDataError', 'ENODATA')
export type NoDataError = InstanceType<typeof NoDataError>
export const RangeTooSmallError = define('RangeTooSmallError', 'ERANGE')
export type RangeTooSmallError = InstanceType<typeof RangeTooSmallError>
export const FileTooBigError = define('FileTooBigError', 'EFBIG')
export type FileTooBigError = InstanceType<typeof FileTooBigError>
export const NotSupportedError = define('NotSupportedError', 'EOPNOTSUPP')
export type NotSupportedError = InstanceType<typeof NotSupportedError>
export const TooManyLinksError = define('TooManyLinksError', 'EMLINK')
export type TooManyLinksError = InstanceType<typeof TooManyLinksError>
export const BusyError = define('BusyError', 'EBUSY')
export type BusyError = InstanceType<typeof BusyError>
export const InvalidConfigError = define('InvalidConfigError', 'EINVAL')
export type InvalidConfigError = InstanceType<typeof InvalidConfigError>
/** A value too large for its slot (E2BIG), e.g. an extended attribute value over 64 KiB. */
export const ValueTooBigError = define('ValueTooBigError', 'E2BIG')
export type ValueTooBigError = InstanceType<typeof ValueTooBigError>
/** A protocol peer sent something malformed, oversized or unexpected. */
export const ProtocolError = define('ProtocolError', 'EIO')
export type ProtocolError = InstanceType<typeof ProtocolError>
/** The daemon is not running or cannot be reached (CLI). */
export const NotConnectedError = define('NotConnectedError', 'ENOTCONN')
export type NotConnectedError = InstanceType<typeof NotConnectedError>
/** The metadata journal's database is damaged (SQLite's check failed): it is not opened. */
export const JournalDamagedError = define('JournalDamagedError', 'EIO')
export type JournalDamagedError = InstanceType<typeof JournalDamagedError>

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
