import { NoDataError } from '../../errors.js'
import type { AbortOptions } from '../../util/abort.js'
import { XATTR_HEALTH, XATTR_POLICY } from '../constants.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import { checkXattr, readOnlyHealth, takesUserXattrs } from '../xattr.js'

/** Removes a user.* attribute (NoDataError when absent); removing a directory's policy stops inheritance. */
export async function removexattr (core: VfsCore, _ctx: VfsContext, ino: number, name: string, options: AbortOptions): Promise<void> {
  await core.checkWritableIno(ino, `removing ${name} from`)
  checkXattr(name)
  const attr = await core.meta.getattr(ino, options)
  if (!takesUserXattrs(attr)) throw new NoDataError(`${await core.pathOf(ino)} has no extended attribute ${name}`)
  if (name === XATTR_HEALTH && attr.type === 'file') throw readOnlyHealth(await core.pathOf(ino))
  try {
    await core.meta.removexattr(ino, name, options)
  } catch (err) {
    throw await core.wrap(err, ino, `removing ${name} from`)
  }
  if (name === XATTR_POLICY) core.policies.invalidate()
}
