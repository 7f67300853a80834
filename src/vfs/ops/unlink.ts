import { IsDirectoryError } from '../../errors.js'
import type { AbortOptions } from '../../util/abort.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import { checkEntryName, requireChild } from './helpers.js'

/**
 * Removes a non-directory name. When that was the last link the inode lives on until the kernel
 * forgets it and every handle is released (unlink while open), then it is released in meta.
 */
export async function unlink (core: VfsCore, _ctx: VfsContext, parent: number, name: string, options: AbortOptions): Promise<void> {
  core.checkWritable(`removing ${name}`)
  checkEntryName(name, parent, () => new IsDirectoryError(`"${name}" is a directory; use rmdir`))
  const child = await requireChild(core, parent, name, options)
  if (child.type === 'dir') {
    throw new IsDirectoryError(`${await core.pathOf(child.ino)} is a directory; use rmdir to remove it`, { details: { ino: child.ino } })
  }
  let after
  try {
    after = await core.meta.unlink(parent, name, options)
  } catch (err) {
    throw await core.wrap(err, parent, `removing "${name}" from`)
  }
  if (after.nlink === 0 && core.inodes.markUnlinked(after.ino)) await core.releaseInode(after.ino)
}
