/**
 * The facade: one thin method per verb, forwarding to ops/ with the shared VfsCore. Lifecycle:
 * start is trivial; stop commits every open file's dirty data (so an unmount loses nothing that
 * was written), then aborts background stores and read-ahead.
 */
import type { Attr } from '../meta/types.js'
import type { AbortOptions } from '../util/abort.js'
import { Lifecycle } from '../util/startable.js'
import { VfsCore, resolveSettings } from './core.js'
import { access } from './ops/access.js'
import { create } from './ops/create.js'
import { fallocate } from './ops/fallocate.js'
import { commit, flush } from './ops/flush.js'
import { forget, rememberLookup } from './ops/forget.js'
import { fsync } from './ops/fsync.js'
import { getattr } from './ops/getattr.js'
import { getxattr } from './ops/getxattr.js'
import { link } from './ops/link.js'
import { listxattr } from './ops/listxattr.js'
import { lookup } from './ops/lookup.js'
import { mkdir } from './ops/mkdir.js'
import { mknod } from './ops/mknod.js'
import { open } from './ops/open.js'
import { fsyncdir, opendir, releasedir } from './ops/opendir.js'
import { read } from './ops/read.js'
import { readdir } from './ops/readdir.js'
import { readlink } from './ops/readlink.js'
import { release } from './ops/release.js'
import { removexattr } from './ops/removexattr.js'
import { rename } from './ops/rename.js'
import { rmdir } from './ops/rmdir.js'
import { setattr } from './ops/setattr.js'
import { setxattr } from './ops/setxattr.js'
import { statfs } from './ops/statfs.js'
import { symlink } from './ops/symlink.js'
import { unlink } from './ops/unlink.js'
import { write } from './ops/write.js'
import { dropRemoteChange } from './remote-changes.js'
import type {
  Vfs, VfsComponents, VfsContext, VfsCreateReply, VfsDirent, VfsInit, VfsInvalidation, VfsOpenReply, VfsSetattr, VfsStatfs,
  VfsStats
} from './types.js'

export class PalmVfs extends Lifecycle implements Vfs {
  readonly #core: VfsCore
  readonly #invalidations = new Set<(inv: VfsInvalidation) => void>()
  #unsubscribe: (() => void) | undefined

  constructor (init: VfsInit, components: VfsComponents) {
    super()
    this.#core = new VfsCore(resolveSettings(init), components)
  }

  protected async onStart (): Promise<void> {
    // Another device's ops: drop what this VFS cached of them, then tell the kernel's notifier.
    this.#unsubscribe = this.#core.meta.onChange((c) => {
      const inv = dropRemoteChange(this.#core, c)
      if (inv == null) return
      for (const l of [...this.#invalidations]) {
        try { l(inv) } catch (err) { this.#core.log.error('an invalidation listener failed: %e', err) }
      }
    }, { remoteOnly: true })
  }

  onInvalidate (listener: (inv: VfsInvalidation) => void): () => void {
    const l = (inv: VfsInvalidation): void => { listener(inv) }
    this.#invalidations.add(l)
    return () => { this.#invalidations.delete(l) }
  }

  protected async onStop (): Promise<void> {
    const core = this.#core
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    for (const r of [...core.inodes.values()]) {
      if (r.file == null) continue
      try {
        await commit(core, r.ino, {})
      } catch (err) {
        core.log.error('stopping: dirty data of %s could not be stored: %e', await core.pathOf(r.ino), err)
      }
    }
    core.controller.abort()
    // Compactions end at the abort (a compaction cut short records nothing).
    await Promise.allSettled([...core.compactions])
    core.cache.stop()
  }

  async lookup (ctx: VfsContext, parent: number, name: string, options: AbortOptions = {}): Promise<Attr> { return await lookup(this.#core, ctx, parent, name, options) }
  async forget (ino: number, nlookup: number): Promise<void> { await forget(this.#core, ino, nlookup) }
  rememberLookup (ino: number): void { rememberLookup(this.#core, ino) }
  async getattr (ctx: VfsContext, ino: number, fh: number | undefined, options: AbortOptions = {}): Promise<Attr> { return await getattr(this.#core, ctx, ino, fh, options) }
  async setattr (ctx: VfsContext, ino: number, set: VfsSetattr, fh: number | undefined, options: AbortOptions = {}): Promise<Attr> { return await setattr(this.#core, ctx, ino, set, fh, options) }
  async readlink (ctx: VfsContext, ino: number, options: AbortOptions = {}): Promise<string> { return await readlink(this.#core, ctx, ino, options) }
  async mknod (ctx: VfsContext, parent: number, name: string, mode: number, rdev: number, options: AbortOptions = {}): Promise<Attr> { return await mknod(this.#core, ctx, parent, name, mode, rdev, options) }
  async mkdir (ctx: VfsContext, parent: number, name: string, mode: number, options: AbortOptions = {}): Promise<Attr> { return await mkdir(this.#core, ctx, parent, name, mode, options) }
  async unlink (ctx: VfsContext, parent: number, name: string, options: AbortOptions = {}): Promise<void> { await unlink(this.#core, ctx, parent, name, options) }
  async rmdir (ctx: VfsContext, parent: number, name: string, options: AbortOptions = {}): Promise<void> { await rmdir(this.#core, ctx, parent, name, options) }
  async symlink (ctx: VfsContext, target: string, parent: number, name: string, options: AbortOptions = {}): Promise<Attr> { return await symlink(this.#core, ctx, target, parent, name, options) }
  async rename (ctx: VfsContext, parent: number, name: string, newParent: number, newName: string, flags: number, options: AbortOptions = {}): Promise<void> { await rename(this.#core, ctx, parent, name, newParent, newName, flags, options) }
  async link (ctx: VfsContext, ino: number, newParent: number, newName: string, options: AbortOptions = {}): Promise<Attr> { return await link(this.#core, ctx, ino, newParent, newName, options) }
  async open (ctx: VfsContext, ino: number, flags: number, options: AbortOptions = {}): Promise<VfsOpenReply> { return await open(this.#core, ctx, ino, flags, options) }
  async create (ctx: VfsContext, parent: number, name: string, mode: number, flags: number, options: AbortOptions = {}): Promise<VfsCreateReply> { return await create(this.#core, ctx, parent, name, mode, flags, options) }
  async read (ctx: VfsContext, ino: number, fh: number, offset: number, size: number, options: AbortOptions = {}): Promise<Uint8Array> { return await read(this.#core, ctx, ino, fh, offset, size, options) }
  async write (ctx: VfsContext, ino: number, fh: number, offset: number, data: Uint8Array, flags: number, options: AbortOptions = {}): Promise<number> { return await write(this.#core, ctx, ino, fh, offset, data, flags, options) }
  async flush (ctx: VfsContext, ino: number, fh: number, lockOwner: bigint, options: AbortOptions = {}): Promise<void> { await flush(this.#core, ctx, ino, fh, lockOwner, options) }
  async release (ctx: VfsContext, ino: number, fh: number, flags: number, options: AbortOptions = {}): Promise<void> { await release(this.#core, ctx, ino, fh, flags, options) }
  async fsync (ctx: VfsContext, ino: number, fh: number, datasync: boolean, options: AbortOptions = {}): Promise<void> { await fsync(this.#core, ctx, ino, fh, datasync, options) }
  async opendir (ctx: VfsContext, ino: number, flags: number, options: AbortOptions = {}): Promise<VfsOpenReply> { return await opendir(this.#core, ctx, ino, flags, options) }
  async readdir (ctx: VfsContext, ino: number, fh: number, offset: number, limit: number, plus: boolean, options: AbortOptions = {}): Promise<VfsDirent[]> { return await readdir(this.#core, ctx, ino, fh, offset, limit, plus, options) }
  async releasedir (ctx: VfsContext, ino: number, fh: number, options: AbortOptions = {}): Promise<void> { await releasedir(this.#core, ctx, ino, fh, options) }
  async fsyncdir (ctx: VfsContext, ino: number, fh: number, datasync: boolean, options: AbortOptions = {}): Promise<void> { await fsyncdir(this.#core, ctx, ino, fh, datasync, options) }
  async statfs (ctx: VfsContext, ino: number, options: AbortOptions = {}): Promise<VfsStatfs> { return await statfs(this.#core, ctx, ino, options) }
  async setxattr (ctx: VfsContext, ino: number, name: string, value: Uint8Array, flags: number, options: AbortOptions = {}): Promise<void> { await setxattr(this.#core, ctx, ino, name, value, flags, options) }
  async getxattr (ctx: VfsContext, ino: number, name: string, options: AbortOptions = {}): Promise<Uint8Array> { return await getxattr(this.#core, ctx, ino, name, options) }
  async listxattr (ctx: VfsContext, ino: number, options: AbortOptions = {}): Promise<string[]> { return await listxattr(this.#core, ctx, ino, options) }
  async removexattr (ctx: VfsContext, ino: number, name: string, options: AbortOptions = {}): Promise<void> { await removexattr(this.#core, ctx, ino, name, options) }
  async access (ctx: VfsContext, ino: number, mask: number, options: AbortOptions = {}): Promise<void> { await access(this.#core, ctx, ino, mask, options) }
  async fallocate (ctx: VfsContext, ino: number, fh: number, mode: number, offset: number, length: number, options: AbortOptions = {}): Promise<void> { await fallocate(this.#core, ctx, ino, fh, mode, offset, length, options) }

  uncommittedSinceMs (): number | undefined { return this.#core.uncommittedSinceMs() }

  stats (): VfsStats {
    const c = this.#core
    const hits = c.cache.hits
    const misses = c.cache.misses
    let openFiles = 0
    for (const r of c.inodes.values()) if (r.file != null) openFiles++
    return {
      dirtyBytes: c.budget.usedBytes,
      dirtyLimitBytes: c.budget.limitBytes,
      dirtyWaiters: c.budget.waiters,
      cacheBytes: c.cache.sizeBytes,
      cacheLimitBytes: c.cache.limitBytes,
      cacheHits: hits,
      cacheMisses: misses,
      cacheHitRate: hits + misses === 0 ? 0 : hits / (hits + misses),
      inflightStripes: c.storeLimiter.running,
      queuedStripes: c.storeLimiter.queued,
      inflightReads: c.cache.inflight,
      readAheadStripes: c.cache.readAhead,
      openFiles,
      openHandles: c.handles.size,
      trackedInodes: c.inodes.size,
      stripesStored: c.counters.stripesStored,
      stripesCompacted: c.counters.stripesCompacted,
      bytesWritten: c.counters.bytesWritten,
      bytesRead: c.counters.bytesRead
    }
  }
}
