import { InvalidArgumentError, NotDirectoryError, NotEmptyError } from '../../errors.js'
import type { AbortOptions } from '../../util/abort.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import { checkEntryName, requireChild } from './helpers.js'

/** Removes an empty directory. */
export async function rmdir (core: VfsCore, _ctx: VfsContext, parent: number, name: string, options: AbortOptions): Promise<void> {
  core.checkWritable(`removing ${name}`)
  if (name === '..') throw new NotEmptyError('rmdir "..": the parent directory is not empty')
  checkEntryName(name, parent, () => new InvalidArgumentError('rmdir ".": remove the directory by its name from its parent'))
  const child = await requireChild(core, parent, name, options)
  if (child.type !== 'dir') {
    throw new NotDirectoryError(`${await core.pathOf(child.ino)} is not a directory; use unlink to remove it`, { details: { ino: child.ino } })
  }
  const some = await core.meta.readdir(child.ino, 0, 1, options)
  if (some.length > 0) {
    throw new NotEmptyError(`${await core.pathOf(child.ino)} is not empty; remove what is in it first`, { details: { ino: child.ino } })
  }
  try {
    await core.meta.rmdir(parent, name, options)
  } catch (err) {
    throw await core.wrap(err, parent, `removing directory "${name}" from`)
  }
  core.policies.invalidate()
}
