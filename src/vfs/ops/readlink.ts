import { InvalidArgumentError } from '../../errors.js'
import type { AbortOptions } from '../../util/abort.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'

/** The target of a symlink; InvalidArgumentError for anything else. */
export async function readlink (core: VfsCore, _ctx: VfsContext, ino: number, options: AbortOptions): Promise<string> {
  const attr = await core.meta.getattr(ino, options)
  if (attr.type !== 'symlink') {
    throw new InvalidArgumentError(`${await core.pathOf(ino)} is not a symbolic link`, { details: { ino } })
  }
  return await core.meta.readlink(ino, options)
}
