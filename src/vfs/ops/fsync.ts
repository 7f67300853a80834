import type { AbortOptions } from '../../util/abort.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import { commit } from './flush.js'
import { forEachStripeBatch } from './helpers.js'

/**
 * The power-loss point: commits the file, makes the fragments of every stripe of the file stable
 * (including stripes written through earlier, closed descriptors), then syncs the journal.
 */
export async function fsync (core: VfsCore, _ctx: VfsContext, ino: number, fh: number, _datasync: boolean, options: AbortOptions): Promise<void> {
  core.handles.get(fh, ino, 'file')
  await commit(core, ino, options)
  try {
    const file = `inode ${ino}` // a label for logs; a failure is wrapped with the path below
    await forEachStripeBatch(core, ino, async (batch) => {
      await core.stripes.sync(batch, { file, signal: options.signal })
    }, options)
    await core.meta.sync(options)
  } catch (err) {
    throw await core.wrap(err, ino, 'syncing')
  }
}
