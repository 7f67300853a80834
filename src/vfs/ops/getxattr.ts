import { NoDataError } from '../../errors.js'
import type { AbortOptions } from '../../util/abort.js'
import { XATTR_HEALTH, XATTR_POLICY } from '../constants.js'
import type { VfsCore } from '../core.js'
import { formatPolicy } from '../policy.js'
import type { VfsContext } from '../types.js'
import { checkXattr, healthOf, takesUserXattrs } from '../xattr.js'
import { routine } from './helpers.js'

const encoder = new TextEncoder()

/**
 * A user.* attribute's value (NoDataError when absent). Computed names, read by name only (never
 * listed, see listxattr): on a file `user.palm.health` (from its stripes' fragments) and its
 * effective `user.palm.policy`; on a directory without a policy of its own, the policy its new
 * files inherit.
 */
export async function getxattr (core: VfsCore, _ctx: VfsContext, ino: number, name: string, options: AbortOptions): Promise<Uint8Array> {
  checkXattr(name)
  const attr = await core.meta.getattr(ino, options)
  // Routine (ls, cp and rsync probe names): named by inode, no journal query for the path.
  const absent = (): Error => routine(() => new NoDataError(`inode ${ino} has no extended attribute ${name}`, { details: { ino, name } }))
  if (!takesUserXattrs(attr)) throw absent()
  if (attr.type === 'file' && name === XATTR_HEALTH) return encoder.encode(await healthOf(core, ino, options))
  const value = await core.meta.getxattr(ino, name, options)
  if (value != null) return value
  if (name === XATTR_POLICY) {
    const policy = attr.type === 'dir' ? await core.policies.inherited(ino, options) : undefined
    return encoder.encode(formatPolicy(policy ?? core.policies.fallback))
  }
  throw absent()
}
