import { PermissionError } from '../../errors.js'
import type { AbortOptions } from '../../util/abort.js'
import { R_OK, W_OK, X_OK } from '../constants.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'

/**
 * access(2). With default_permissions the kernel checks modes itself and never calls this; it is
 * answered from the mode bits anyway (root passes R/W always, X when any x bit is set) so mounts
 * without default_permissions stay correct.
 */
export async function access (core: VfsCore, ctx: VfsContext, ino: number, mask: number, options: AbortOptions): Promise<void> {
  const attr = await core.meta.getattr(ino, options)
  if ((mask & (R_OK | W_OK | X_OK)) === 0) return
  if ((mask & W_OK) !== 0) await core.checkWritableIno(ino, 'writing')
  let granted: number
  if (ctx.uid === 0) {
    granted = R_OK | W_OK | ((attr.mode & 0o111) !== 0 || attr.type === 'dir' ? X_OK : 0)
  } else if (ctx.uid === attr.uid) {
    granted = (attr.mode >> 6) & 7
  } else if (ctx.gid === attr.gid) {
    granted = (attr.mode >> 3) & 7
  } else {
    granted = attr.mode & 7
  }
  if ((mask & granted) !== mask) {
    throw new PermissionError(`${await core.pathOf(ino)}: access denied by its mode 0${(attr.mode & 0o7777).toString(8)}; ask its owner to change it`)
  }
}
