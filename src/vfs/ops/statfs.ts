import type { AbortOptions } from '../../util/abort.js'
import { NAME_MAX_BYTES, STATFS_BLOCK_BYTES } from '../constants.js'
import type { VfsCore } from '../core.js'
import type { VfsContext, VfsStatfs } from '../types.js'

/** Inode numbers statfs offers as free: PALM has no inode table to run out of. */
const FREE_INODES = 2 ** 32

/**
 * `df`: the pool's usable capacity (raw × k/n, from place) in 4 KiB blocks; dirty data not yet
 * stored counts as used so that df does not promise space the write buffer already took.
 */
export async function statfs (core: VfsCore, _ctx: VfsContext, _ino: number, _options: AbortOptions): Promise<VfsStatfs> {
  const usage = core.stripes.usage()
  const stats = core.meta.stats()
  const blocks = Math.floor(usage.usableCapacityBytes / STATFS_BLOCK_BYTES)
  const freeBytes = Math.max(0, usage.usableFreeBytes - core.budget.usedBytes)
  const bfree = Math.min(blocks, Math.floor(freeBytes / STATFS_BLOCK_BYTES))
  const used = stats.files + stats.dirs
  return {
    bsize: STATFS_BLOCK_BYTES,
    frsize: STATFS_BLOCK_BYTES,
    blocks,
    bfree,
    bavail: bfree,
    files: used + FREE_INODES,
    ffree: FREE_INODES,
    favail: FREE_INODES,
    namemax: NAME_MAX_BYTES
  }
}
