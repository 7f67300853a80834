import {
  BusyError, ExistsError, InvalidArgumentError, IsDirectoryError, NotDirectoryError, NotEmptyError, NotSupportedError
} from '../../errors.js'
import type { AbortOptions } from '../../util/abort.js'
import { RENAME_EXCHANGE, RENAME_NOREPLACE } from '../constants.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import { checkEntryName, requireChild, requireDir } from './helpers.js'
import { ROOT_INO, type Attr, type RenameFlags } from '../../meta/types.js'

/**
 * Atomic rename (flags RENAME_NOREPLACE, RENAME_EXCHANGE). POSIX rules are checked here before
 * meta is touched: a file cannot replace a directory (EISDIR) nor a directory a file (ENOTDIR), a
 * replaced directory must be empty, and a directory cannot move into itself (EINVAL).
 */
export async function rename (core: VfsCore, _ctx: VfsContext, parent: number, name: string, newParent: number, newName: string, flags: number, options: AbortOptions): Promise<void> {
  core.checkWritable(`renaming ${name}`)
  if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) !== 0) {
    throw new NotSupportedError(`rename flags 0x${flags.toString(16)} are not supported (only RENAME_NOREPLACE and RENAME_EXCHANGE)`)
  }
  const noReplace = (flags & RENAME_NOREPLACE) !== 0
  const exchange = (flags & RENAME_EXCHANGE) !== 0
  if (noReplace && exchange) throw new InvalidArgumentError('rename: RENAME_NOREPLACE and RENAME_EXCHANGE cannot be combined')
  const dots = (): Error => new BusyError('rename: "." and ".." cannot be renamed or replaced')
  checkEntryName(name, parent, dots)
  checkEntryName(newName, newParent, dots)
  await Promise.all([requireDir(core, parent, options), requireDir(core, newParent, options)])
  const src = await requireChild(core, parent, name, options)
  // Linux's order of checks (do_renameat2, vfs_rename), so that errno matches a local disk.
  if (src.type === 'dir' && newParent !== parent && await isAncestorOrSelf(core, src.ino, newParent, options)) {
    throw new InvalidArgumentError(`cannot move ${await core.pathOf(src.ino)} into itself or one of its subdirectories`)
  }
  const dst = exchange ? await requireChild(core, newParent, newName, options) : await core.meta.lookup(newParent, newName, options)
  if (dst != null && noReplace) throw new ExistsError(`${await core.pathOf(dst.ino)} already exists (RENAME_NOREPLACE)`)
  if (dst?.type === 'dir' && newParent !== parent && await isAncestorOrSelf(core, dst.ino, parent, options)) {
    if (exchange) throw new InvalidArgumentError(`cannot exchange ${await core.pathOf(dst.ino)} with something inside it`)
    throw new NotEmptyError(`${await core.pathOf(dst.ino)} contains ${name}; it cannot be replaced by it`)
  }
  if (dst != null && dst.ino === src.ino) return // two names of one inode: POSIX says do nothing
  if (dst != null && !exchange) await checkReplace(core, src, dst, options)
  const renameFlags: RenameFlags = {}
  if (noReplace) renameFlags.noReplace = true
  if (exchange) renameFlags.exchange = true
  let result: { replaced?: Attr }
  try {
    result = await core.meta.rename(parent, name, newParent, newName, renameFlags, options)
  } catch (err) {
    throw await core.wrap(err, parent, `renaming "${name}" in`)
  }
  if (src.type === 'dir' || dst?.type === 'dir') core.policies.invalidate()
  const replaced = result.replaced
  if (replaced != null && replaced.nlink === 0 && core.inodes.markUnlinked(replaced.ino)) await core.releaseInode(replaced.ino)
}

async function checkReplace (core: VfsCore, src: Attr, dst: Attr, options: AbortOptions): Promise<void> {
  if (src.type === 'dir' && dst.type !== 'dir') {
    throw new NotDirectoryError(`${await core.pathOf(dst.ino)} is not a directory; a directory can only replace a directory`)
  }
  if (src.type !== 'dir' && dst.type === 'dir') {
    throw new IsDirectoryError(`${await core.pathOf(dst.ino)} is a directory; a file cannot replace it`)
  }
  if (dst.type === 'dir' && (await core.meta.readdir(dst.ino, 0, 1, options)).length > 0) {
    throw new NotEmptyError(`${await core.pathOf(dst.ino)} is not empty; only an empty directory can be replaced`)
  }
}

/** True when `dir` is `start` or one of its ancestors. */
async function isAncestorOrSelf (core: VfsCore, dir: number, start: number, options: AbortOptions): Promise<boolean> {
  let ino = start
  for (let depth = 0; depth < 4096; depth++) {
    if (ino === dir) return true
    if (ino === ROOT_INO) return false
    const up = await core.meta.parentOf(ino, options)
    if (up === ino) return false
    ino = up
  }
  return false
}
