/**
 * What the VFS does when another device's ops reach this device's journal (meta's change feed,
 * `remote: true`): drop its own caches of what changed, then tell subscribers (src/fuse) what the
 * kernel must drop. Local changes are ignored: they passed through the kernel and the VFS already.
 *
 * Dropped here, for changed inodes:
 * - the manifest-ref window (stripe-refs.ts), and for changed content the decoded stripes it named
 *   (read-cache.ts: memory only; stripe ids name their bytes, so a cached stripe is never wrong);
 * - the keepCache stamp (inode-table.ts `cacheStamp`): the next open() returns keep_cache false, so
 *   the kernel drops its pages at open even if the remote content has the same size and mtime
 *   (close-to-open, JuiceFS's rule);
 * - an open-file state that holds nothing of its own (`OpenFile.clean`: handles open, nothing
 *   written since the last commit): it is rebuilt from meta on the next write, so size and stripe
 *   layout follow the remote change. A state with dirty or uncommitted data is kept as it is: the
 *   local writer's bytes win in this VFS until its next commit, and that commit's manifest delta
 *   (only the stripes it wrote) meets the remote one in the journal, whose merge rules decide.
 *   Nothing written locally is dropped or corrupted by a remote change;
 * - policies (directory xattrs, moves) when xattrs or names changed.
 *
 * And a file that other devices' ops left with no name (two devices each removed one of its hard
 * links: neither saw it lose its last one, so neither released it) is released here once nothing
 * holds it, as a local unlink would (`releaseRemoteUnlinked`); one held open is released at its close.
 */
import type { JournalChange } from '../meta/types.js'
import { ROOT_INO } from '../meta/types.js'
import type { VfsCore } from './core.js'
import type { VfsInvalidation } from './types.js'

/** Drops the VFS's caches of a remote change; returns what the kernel may hold of it (undefined: nothing). */
export function dropRemoteChange (core: VfsCore, c: JournalChange): VfsInvalidation | undefined {
  if (!c.remote) return undefined
  const content = new Set(c.content)
  for (const ino of new Set([...c.inodes, ...c.content])) {
    // The refs its last commit recorded may be stale too (even a holders op, which moves no time).
    core.inodes.get(ino)?.file?.forgetLastCommit()
    const ids = core.refs.drop(ino)
    if (content.has(ino)) {
      core.cache.drop(ids)
      // Another device's stripes: the next fsync walks the manifest.
      core.unsynced.untrack(ino)
    }
  }
  if (c.xattrs.length > 0 || c.entries.length > 0) core.policies.invalidate()

  const data: number[] = []
  for (const ino of content) {
    const record = core.inodes.get(ino)
    if (record == null) continue
    record.cacheStamp = undefined
    data.push(ino)
    const file = record.file
    if (file == null) continue
    if (!file.clean) {
      core.log('inode %d changed outside this writer (another device, or compaction or repair here) while written here: the local data stays until its commit, where the journal merges them', ino)
      continue
    }
    // Under the inode lock: no write is using the state meanwhile.
    void core.locks.with(ino, async () => {
      if (record.file === file && file.clean) record.file = undefined
    }).catch((err: unknown) => { core.log.error('dropping the open-file state of inode %d failed: %e', ino, err) })
  }
  const attrs = c.inodes.filter(ino => !content.has(ino) && (ino === ROOT_INO || core.inodes.get(ino) != null))
  // The kernel can hold a name only under a directory it holds (the root always).
  const entries = c.entries.filter(e => e.parent === ROOT_INO || core.inodes.get(e.parent) != null)
  if (data.length === 0 && attrs.length === 0 && entries.length === 0) return undefined
  return { entries, attrs, data }
}
