/**
 * Validation of names, symlink targets and xattr names, shared by the public methods (early, clear
 * errors) and by op application (the same checks for ops from other devices).
 */
import { InvalidArgumentError, NameTooLongError, RangeTooSmallError } from '../errors.js'
import { NAME_MAX_BYTES, SYMLINK_MAX_BYTES, XATTR_NAME_MAX_BYTES } from './constants.js'

const LONE_SURROGATE = /\p{Cs}/u

/** A directory-entry name: not empty, not "." or "..", no "/" or NUL, valid Unicode, ≤ 255 bytes. */
export function checkName (name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new InvalidArgumentError(`${JSON.stringify(name)} is not a valid file name (empty, "." or "..", or contains "/" or NUL)`, { details: { name } })
  }
  if (name.length > NAME_MAX_BYTES / 3 && Buffer.byteLength(name) > NAME_MAX_BYTES) {
    throw new NameTooLongError(`file name "${name.slice(0, 40)}…" is ${Buffer.byteLength(name)} bytes; the limit is ${NAME_MAX_BYTES}: use a shorter name`, { details: { name } })
  }
  if (LONE_SURROGATE.test(name)) {
    throw new InvalidArgumentError(`file name ${JSON.stringify(name)} is not valid Unicode (a lone surrogate)`, { details: { name } })
  }
}

/** A symlink target: not empty, no NUL, ≤ 4096 bytes. */
export function checkTarget (target: unknown): asserts target is string {
  if (typeof target !== 'string' || target === '' || target.includes('\0') || LONE_SURROGATE.test(target)) {
    throw new InvalidArgumentError(`symlink target ${JSON.stringify(target)} is empty, contains NUL or is not valid Unicode`)
  }
  if (Buffer.byteLength(target) > SYMLINK_MAX_BYTES) {
    throw new NameTooLongError(`symlink target of ${Buffer.byteLength(target)} bytes is longer than ${SYMLINK_MAX_BYTES}: use a shorter target`)
  }
}

/** An xattr name: 1…255 bytes, no NUL (ERANGE otherwise, as Linux answers). */
export function checkXattrName (name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) > XATTR_NAME_MAX_BYTES) {
    throw new RangeTooSmallError(`extended attribute name ${JSON.stringify(String(name).slice(0, 40))} must be 1 to ${XATTR_NAME_MAX_BYTES} bytes`)
  }
  if (name.includes('\0') || LONE_SURROGATE.test(name)) {
    throw new InvalidArgumentError(`extended attribute name ${JSON.stringify(name)} contains NUL or is not valid Unicode`)
  }
}

/** An integer in [min, max], else InvalidArgumentError naming `what`. */
export function checkInt (value: unknown, what: string, min: number, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${what} ${String(value)} is not an integer in [${min}, ${max}]`)
  }
}
