import type { AbortOptions } from '../../util/abort.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import type { CommitOptions } from '../write-buffer.js'
import { cacheStamp } from './open.js'

/**
 * close(2) of one descriptor: commits the inode's dirty data (all stripe stores awaited, then one
 * manifest update), so a close that returns means the data is stored. Deferred errors surface here.
 */
export async function flush (core: VfsCore, _ctx: VfsContext, ino: number, fh: number, _lockOwner: bigint, options: AbortOptions): Promise<void> {
  core.handles.get(fh, ino, 'file')
  await commit(core, ino, options)
}

/** Commits the open-file state of `ino`, if any (`sync`: an fsync's commit, see CommitOptions). */
export async function commit (core: VfsCore, ino: number, options: CommitOptions): Promise<void> {
  const record = core.inodes.get(ino)
  if (record?.file == null) return
  await core.locks.with(ino, async () => {
    const attr = await record.file?.commitLocked(options)
    if (attr != null && record.cacheStamp != null) record.cacheStamp = cacheStamp(attr)
  }, options.signal)
}
