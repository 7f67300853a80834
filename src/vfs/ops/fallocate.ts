import { BadHandleError, InvalidArgumentError, NoSpaceError, NotSupportedError } from '../../errors.js'
import type { AbortOptions } from '../../util/abort.js'
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../constants.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import { truncateLocked } from './setattr.js'

/**
 * fallocate(2): mode 0 extends the size (a hole: stripes are stored when written) after checking
 * the pool can take it; KEEP_SIZE only checks; PUNCH_HOLE|KEEP_SIZE turns the range into zeros
 * (whole stripes become holes). Other modes are EOPNOTSUPP.
 */
export async function fallocate (core: VfsCore, _ctx: VfsContext, ino: number, fh: number, mode: number, offset: number, length: number, options: AbortOptions): Promise<void> {
  const h = core.handles.get(fh, ino, 'file')
  if (!h.writable) throw new BadHandleError(`handle ${fh} of ${await core.pathOf(ino)} was not opened for writing`)
  await core.checkWritableIno(ino, 'allocating space for')
  if (offset < 0 || length <= 0) throw new InvalidArgumentError(`fallocate on ${await core.pathOf(ino)}: offset must be ≥ 0 and length > 0`)
  const punch = (mode & FALLOC_FL_PUNCH_HOLE) !== 0
  if ((mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) !== 0 || (punch && (mode & FALLOC_FL_KEEP_SIZE) === 0)) {
    throw new NotSupportedError(`fallocate mode 0x${mode.toString(16)} is not supported on PALM (use 0, KEEP_SIZE or PUNCH_HOLE|KEEP_SIZE)`)
  }
  await core.locks.with(ino, async () => {
    const record = core.inodes.get(ino)
    if (record == null) throw new BadHandleError(`inode ${ino} has no open handle; reopen the file`)
    const file = await core.openFileLocked(record, options)
    if (punch) {
      await file.punchLocked(offset, offset + length, options)
      return
    }
    const grow = Math.max(0, offset + length - file.size)
    if (grow > core.stripes.usage().usableFreeBytes) {
      throw new NoSpaceError(`cannot reserve ${grow} bytes for ${await core.pathOf(ino)}: the pool has ${core.stripes.usage().usableFreeBytes} bytes free; free space or add a device`)
    }
    if ((mode & FALLOC_FL_KEEP_SIZE) === 0 && grow > 0) await truncateLocked(core, ino, offset + length, options)
  }, options.signal)
}
