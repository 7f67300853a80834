import type { AbortOptions } from '../../util/abort.js'
import { XATTR_HEALTH, XATTR_POLICY } from '../constants.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import { takesUserXattrs } from '../xattr.js'

/** Stored names, plus `user.palm.policy` and `user.palm.health` on every regular file. */
export async function listxattr (core: VfsCore, _ctx: VfsContext, ino: number, options: AbortOptions): Promise<string[]> {
  const attr = await core.meta.getattr(ino, options)
  if (!takesUserXattrs(attr)) return []
  const names = await core.meta.listxattr(ino, options)
  if (attr.type === 'file') {
    for (const n of [XATTR_POLICY, XATTR_HEALTH]) if (!names.includes(n)) names.push(n)
  }
  return names
}
