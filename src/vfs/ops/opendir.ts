import type { AbortOptions } from '../../util/abort.js'
import type { VfsCore } from '../core.js'
import type { VfsContext, VfsOpenReply } from '../types.js'
import { requireDir } from './helpers.js'

/** A directory handle. Listing is by stable meta cookies, so no snapshot is kept. */
export async function opendir (core: VfsCore, _ctx: VfsContext, ino: number, flags: number, options: AbortOptions): Promise<VfsOpenReply> {
  await requireDir(core, ino, options)
  const h = core.handles.open(ino, 'dir', flags)
  return { fh: h.fh, keepCache: false }
}

export async function releasedir (core: VfsCore, _ctx: VfsContext, ino: number, fh: number, _options: AbortOptions): Promise<void> {
  core.handles.close(fh, ino, 'dir')
}

/** Directory entries are journal ops: make the journal stable. */
export async function fsyncdir (core: VfsCore, _ctx: VfsContext, ino: number, fh: number, _datasync: boolean, options: AbortOptions): Promise<void> {
  core.handles.get(fh, ino, 'dir')
  await core.meta.sync(options)
}
