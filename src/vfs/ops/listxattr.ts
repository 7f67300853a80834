import type { AbortOptions } from '../../util/abort.js'
import { XATTR_HEALTH, XATTR_POLICY } from '../constants.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import { takesUserXattrs } from '../xattr.js'

/**
 * Stored names. PALM's computed names are never listed (as CephFS's `ceph.*`), so copy tools that
 * carry xattrs (cp -a, rsync -X, tar --xattrs) do not copy them onto other file systems and back:
 * a file's `user.palm.policy` (recorded at creation from its folder) and `user.palm.health`. A
 * directory's `user.palm.policy` is listed where it was set: it is a real setting of that folder.
 */
export async function listxattr (core: VfsCore, _ctx: VfsContext, ino: number, options: AbortOptions): Promise<string[]> {
  const attr = await core.meta.getattr(ino, options)
  if (!takesUserXattrs(attr)) return []
  const names = await core.meta.listxattr(ino, options)
  return names.filter(n => n !== XATTR_HEALTH && (attr.type === 'dir' || n !== XATTR_POLICY))
}
