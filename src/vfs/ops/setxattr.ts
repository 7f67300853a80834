import { NotPermittedError } from '../../errors.js'
import type { XattrFlags } from '../../meta/types.js'
import type { AbortOptions } from '../../util/abort.js'
import { XATTR_CREATE, XATTR_HEALTH, XATTR_POLICY, XATTR_REPLACE } from '../constants.js'
import type { VfsCore } from '../core.js'
import { formatPolicy, parsePolicy } from '../policy.js'
import type { VfsContext } from '../types.js'
import { checkXattr, takesUserXattrs } from '../xattr.js'

const decoder = new TextDecoder()
const encoder = new TextEncoder()

/**
 * Sets a user.* attribute. `user.palm.policy` must be "k-of-n" (stored normalised); on a
 * directory it applies to files created below it from now on. `user.palm.health` is computed:
 * setting it is EPERM (it is never listed, so copy tools do not try).
 */
export async function setxattr (core: VfsCore, _ctx: VfsContext, ino: number, name: string, value: Uint8Array, flags: number, options: AbortOptions): Promise<void> {
  await core.checkWritableIno(ino, `setting ${name} on`)
  checkXattr(name, value)
  const attr = await core.meta.getattr(ino, options)
  if (!takesUserXattrs(attr)) {
    throw new NotPermittedError(`${await core.pathOf(ino)}: user attributes can only be set on files and directories`)
  }
  if (name === XATTR_HEALTH) {
    throw new NotPermittedError(`${await core.pathOf(ino)}: ${XATTR_HEALTH} is computed from where the fragments are and cannot be set; read it with getfattr -n ${XATTR_HEALTH}`)
  }
  let stored = value
  if (name === XATTR_POLICY) stored = encoder.encode(formatPolicy(parsePolicy(decoder.decode(value), await core.pathOf(ino))))
  const xflags: XattrFlags = {}
  if ((flags & XATTR_CREATE) !== 0) xflags.create = true
  if ((flags & XATTR_REPLACE) !== 0) xflags.replace = true
  try {
    await core.meta.setxattr(ino, name, stored.slice(), xflags, options)
  } catch (err) {
    throw await core.wrap(err, ino, `setting ${name} on`)
  }
  if (name === XATTR_POLICY) core.policies.invalidate()
}
