import { BadHandleError, FileTooBigError } from '../../errors.js'
import type { AbortOptions } from '../../util/abort.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'

/**
 * Writes into the inode's open-file state (copied; the binding reuses `data`). O_APPEND handles
 * write at the current end. A deferred store failure of this file is thrown here. A read of the
 * inode that arrives while this write runs is answered after it (write-order.ts).
 */
export async function write (core: VfsCore, ctx: VfsContext, ino: number, fh: number, offset: number, data: Uint8Array, flags: number, options: AbortOptions): Promise<number> {
  // Registered before the first await: reads that arrive after this write wait for it (write-order.ts).
  const end = core.writeOrder.begin(ino)
  try {
    return await writeOrdered(core, ctx, ino, fh, offset, data, flags, options)
  } finally {
    end()
  }
}

async function writeOrdered (core: VfsCore, _ctx: VfsContext, ino: number, fh: number, offset: number, data: Uint8Array, _flags: number, options: AbortOptions): Promise<number> {
  const h = core.handles.get(fh, ino, 'file')
  if (!h.writable) throw new BadHandleError(`handle ${fh} of ${await core.pathOf(ino)} was not opened for writing`)
  await core.checkWritableIno(ino, 'writing')
  if (data.length === 0) return 0
  const n = await core.locks.with(ino, async () => {
    const record = core.inodes.get(ino)
    if (record == null) throw new BadHandleError(`inode ${ino} has no open handle; reopen the file`)
    const file = await core.openFileLocked(record, options)
    const at = h.append ? file.size : offset
    if (at + data.length > core.settings.maxFileSizeBytes) {
      throw new FileTooBigError(`${await core.pathOf(ino)} cannot grow past ${core.settings.maxFileSizeBytes} bytes`)
    }
    return await file.writeLocked(at, data, options)
  }, options.signal)
  core.counters.bytesWritten += n
  return n
}
