/**
 * POSIX preconditions on names, checked before meta is touched (JuiceFS baseMeta style).
 */
import { InvalidArgumentError, NameTooLongError, type PalmError } from '../errors.js'
import { NAME_MAX_BYTES, PATH_MAX_BYTES } from './constants.js'

/** True for "." and "..". */
export function isDots (name: string): boolean {
  return name === '.' || name === '..'
}

/** The error for a name that cannot be a directory entry (empty, '/', NUL, over 255 bytes), else undefined. */
export function nameError (name: string, where: () => string): PalmError | undefined {
  if (name.length === 0 || name.includes('/') || name.includes('\0')) {
    return new InvalidArgumentError(`"${name}" in ${where()} is not a valid file name; use a name without "/" or NUL`, { details: { name } })
  }
  if (name.length > NAME_MAX_BYTES / 3 && Buffer.byteLength(name) > NAME_MAX_BYTES) {
    return new NameTooLongError(`a name in ${where()} is ${Buffer.byteLength(name)} bytes; names are at most ${NAME_MAX_BYTES} bytes, use a shorter one`, { details: { name: name.slice(0, 64) } })
  }
  return undefined
}

/** Throws unless a symlink target is non-empty and shorter than PATH_MAX. */
export function checkTarget (target: string, where: string): void {
  if (target.length === 0 || target.includes('\0')) {
    throw new InvalidArgumentError(`symlink ${where}: the target must be a non-empty path without NUL`)
  }
  if (Buffer.byteLength(target) >= PATH_MAX_BYTES) {
    throw new NameTooLongError(`symlink ${where}: the target is ${Buffer.byteLength(target)} bytes; targets must be shorter than ${PATH_MAX_BYTES} bytes`)
  }
}
