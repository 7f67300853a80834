import { ExistsError, NotFoundError, NotPermittedError } from '../../errors.js'
import type { Attr } from '../../meta/types.js'
import type { AbortOptions } from '../../util/abort.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import { checkEntryName, requireDir } from './helpers.js'

/** A new name for an existing non-directory inode (hard link); counts one kernel lookup. */
export async function link (core: VfsCore, _ctx: VfsContext, ino: number, newParent: number, newName: string, options: AbortOptions): Promise<Attr> {
  core.checkWritable(`linking ${newName}`)
  checkEntryName(newName, newParent, () => new ExistsError(`"${newName}" always exists in a directory`))
  const [attr] = await Promise.all([core.meta.getattr(ino, options), requireDir(core, newParent, options)])
  // Linux looks the new name up before it looks at the source: EEXIST wins over EPERM.
  if (await core.meta.lookup(newParent, newName, options) != null) {
    throw new ExistsError(`${await core.pathOf(newParent)}/${newName} already exists`)
  }
  if (attr.type === 'dir') {
    throw new NotPermittedError(`${await core.pathOf(ino)} is a directory; directories cannot be hard-linked`, { details: { ino } })
  }
  if (attr.nlink === 0) {
    throw new NotFoundError(`inode ${ino} was deleted; a deleted file cannot get a new name`, { details: { ino } })
  }
  let out: Attr
  try {
    out = await core.meta.link(ino, newParent, newName, options)
  } catch (err) {
    throw await core.wrap(err, newParent, `linking "${newName}" in`)
  }
  core.inodes.remember(out.ino)
  return core.overlay(out)
}
