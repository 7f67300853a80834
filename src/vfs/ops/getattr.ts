import type { Attr } from '../../meta/types.js'
import type { AbortOptions } from '../../util/abort.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'

/** Attributes with the open-file overlay (dirty size and mtime). */
export async function getattr (core: VfsCore, _ctx: VfsContext, ino: number, _fh: number | undefined, options: AbortOptions): Promise<Attr> {
  return await core.getattr(ino, options)
}
