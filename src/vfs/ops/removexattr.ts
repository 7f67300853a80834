import { NoDataError, NotPermittedError } from '../../errors.js'
import type { AbortOptions } from '../../util/abort.js'
import { XATTR_HEALTH, XATTR_POLICY } from '../constants.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import { checkXattr, takesUserXattrs } from '../xattr.js'

/**
 * Removes a user.* attribute (NoDataError when absent); removing a directory's policy stops
 * inheritance, a file's recorded one makes it use the default. `user.palm.health` is computed:
 * removing it is EPERM.
 */
export async function removexattr (core: VfsCore, _ctx: VfsContext, ino: number, name: string, options: AbortOptions): Promise<void> {
  await core.checkWritableIno(ino, `removing ${name} from`)
  checkXattr(name)
  const attr = await core.meta.getattr(ino, options)
  if (!takesUserXattrs(attr)) throw new NoDataError(`${await core.pathOf(ino)} has no extended attribute ${name}`)
  if (name === XATTR_HEALTH) {
    throw new NotPermittedError(`${await core.pathOf(ino)}: ${XATTR_HEALTH} is computed from where the fragments are and cannot be removed`)
  }
  try {
    await core.meta.removexattr(ino, name, options)
  } catch (err) {
    throw await core.wrap(err, ino, `removing ${name} from`)
  }
  if (name === XATTR_POLICY) core.policies.invalidate()
}
