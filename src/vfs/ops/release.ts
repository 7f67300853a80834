import type { AbortOptions } from '../../util/abort.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import { cacheStamp } from './open.js'

/**
 * The last close of a descriptor. When no handle of the inode is left, its dirty data is
 * committed (or dropped, when the file was unlinked: nobody can reach it again) and the
 * open-file state goes; an unlinked inode the kernel no longer holds is released in meta.
 */
export async function release (core: VfsCore, _ctx: VfsContext, ino: number, fh: number, _flags: number, options: AbortOptions): Promise<void> {
  core.handles.close(fh, ino, 'file')
  const record = core.inodes.get(ino)
  let failure: unknown
  if (record?.file != null && record.opens <= 1) {
    await core.locks.with(ino, async () => {
      const file = record.file
      if (file == null || record.opens > 1) return
      if (record.unlinked) {
        file.discard()
      } else {
        try {
          const attr = await file.commitLocked(options)
          if (attr != null) record.cacheStamp = cacheStamp(attr)
        } catch (err) {
          failure = err
          core.log.error('closing inode %d lost unstored data: %s', ino, (err as Error).message)
          file.discard()
        }
      }
      if (record.opens <= 1) record.file = undefined
    }) // no signal on the lock: the state must be dropped even past the deadline
  }
  if (core.inodes.closed(ino)) await core.releaseInode(ino)
  if (failure !== undefined) throw failure
}
