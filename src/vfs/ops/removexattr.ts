import { NoDataError } from '../../errors.js'
import type { AbortOptions } from '../../util/abort.js'
import { XATTR_HEALTH, XATTR_POLICY } from '../constants.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import { checkXattr, takesUserXattrs } from '../xattr.js'

/**
 * Removes a user.* attribute (NoDataError when absent); removing a directory's policy stops
 * inheritance, a file's makes it use the default. A file's computed names always "remove".
 */
export async function removexattr (core: VfsCore, _ctx: VfsContext, ino: number, name: string, options: AbortOptions): Promise<void> {
  await core.checkWritableIno(ino, `removing ${name} from`)
  checkXattr(name)
  const attr = await core.meta.getattr(ino, options)
  if (!takesUserXattrs(attr)) throw new NoDataError(`${await core.pathOf(ino)} has no extended attribute ${name}`)
  // A file's health and default policy are computed, not stored: removing them (rsync -X clears
  // names the source lacks) is accepted and changes nothing.
  if (attr.type === 'file' && name === XATTR_HEALTH) return
  try {
    await core.meta.removexattr(ino, name, options)
  } catch (err) {
    if (attr.type === 'file' && name === XATTR_POLICY && err instanceof NoDataError) return
    throw await core.wrap(err, ino, `removing ${name} from`)
  }
  if (name === XATTR_POLICY) core.policies.invalidate()
}
