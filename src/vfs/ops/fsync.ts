import { partsOf } from '../../meta/index.js'
import { raceSignal, type AbortOptions } from '../../util/abort.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import { commit } from './flush.js'
import { forEachStripeBatch } from './helpers.js'

/**
 * The power-loss point: commits the file, its stores flushed by their devices as they store them
 * when they go to other devices (StripeIOOptions.sync: the flush rides on the store's round trip;
 * `flushWithStore`), then makes stable, in one step, the fragments of every other stripe of the
 * file not known stable (stored before this fsync, or through earlier, closed descriptors:
 * unsynced.ts) and the journal (WAL and redo log).
 * The two flushes run together: their order adds nothing, since the setContent was appended to
 * the redo log (in the kernel, which may write it back at any time) only after the fragments
 * were written.
 */
export async function fsync (core: VfsCore, _ctx: VfsContext, ino: number, fh: number, _datasync: boolean, options: AbortOptions): Promise<void> {
  core.handles.get(fh, ino, 'file')
  // In a pool the commit's own stores are flushed as they are stored (one round trip per device,
  // not two); what is left for the flush below is what earlier stores and closed descriptors left
  // unflushed. On one device the flush below takes them too, alongside the journal's.
  await commit(core, ino, { ...options, sync: core.stripes.flushWithStore?.() === true })
  try {
    const file = `inode ${ino}` // a label for logs; a failure is wrapped with the path below
    // The flushes are shared with other fsyncs of the file: they run to the end (or the VFS's
    // stop), and this caller's signal only ends its own wait.
    const signal = core.controller.signal
    const fragments = core.unsynced.sync(ino,
      async (stripes) => { await core.stripes.sync(stripes, { file, signal }) },
      async () => {
        await forEachStripeBatch(core, ino, async (batch) => {
          // A stripe's slices are stored stripes of their own: they are flushed too.
          await core.stripes.sync(batch.flatMap(partsOf), { file, signal })
        }, { signal })
      })
    await raceSignal(Promise.all([fragments, core.meta.sync({ signal })]), options.signal, `syncing inode ${ino}`)
  } catch (err) {
    throw await core.wrap(err, ino, 'syncing')
  }
}
