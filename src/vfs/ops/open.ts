import { IsDirectoryError } from '../../errors.js'
import type { Attr } from '../../meta/types.js'
import type { AbortOptions } from '../../util/abort.js'
import { O_TRUNC } from '../constants.js'
import type { VfsCore } from '../core.js'
import type { InodeRecord } from '../inode-table.js'
import type { VfsContext, VfsOpenReply } from '../types.js'
import { truncateLocked } from './setattr.js'

/**
 * Opens a file: a handle that remembers the flags (O_APPEND goes to the current end on every
 * write). O_TRUNC with write access truncates. keepCache is true when the content is the one the
 * kernel last cached for this inode.
 */
export async function open (core: VfsCore, _ctx: VfsContext, ino: number, flags: number, options: AbortOptions): Promise<VfsOpenReply> {
  let attr = await core.getattr(ino, options)
  const writable = (flags & 3) !== 0
  if (attr.type === 'dir') {
    if (writable) throw new IsDirectoryError(`${await core.pathOf(ino)} is a directory; it cannot be opened for writing`)
  }
  if (writable) await core.checkWritableIno(ino, 'opening for writing')
  const record = core.inodes.opened(ino)
  const h = core.handles.open(ino, 'file', flags)
  try {
    if (writable && (flags & O_TRUNC) !== 0 && attr.type === 'file' && attr.size > 0) {
      attr = await core.locks.with(ino, async () => await truncateLocked(core, ino, 0, options), options.signal)
    }
  } catch (err) {
    core.handles.close(h.fh, ino, 'file')
    if (core.inodes.closed(ino)) await core.releaseInode(ino)
    throw err
  }
  return { fh: h.fh, keepCache: keepCache(record, attr) }
}

/** size:mtime of an attr: the content version the kernel may have cached. */
export function cacheStamp (attr: Attr): string {
  return `${attr.size}:${attr.mtimeNs}`
}

/** True when the kernel's cached pages of this inode still match `attr`; records the new stamp. */
export function keepCache (record: InodeRecord, attr: Attr): boolean {
  // Open-file state means every change since the kernel's last open went through the kernel.
  const keep = record.file != null ? record.cacheStamp != null : record.cacheStamp === cacheStamp(attr)
  record.cacheStamp = cacheStamp(attr)
  return keep
}
