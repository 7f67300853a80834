/**
 * @packageDocumentation
 * The VFS layer: an inode-based file system over the metadata journal (meta) and stripe storage
 * (place's StripeIO), driven by src/fuse with libfuse's low-level verbs.
 *
 * Invariants:
 * - Every handle of an inode shares one open-file state: writes are visible to all at once.
 * - A close (flush/release) or fsync returns only after every dirty stripe of the file is stored
 *   (durability rule of place) and the new content is one committed meta.setContent; fsync also
 *   makes fragments and journal stable. A background failure is reported on the next write,
 *   flush, fsync or release, never lost.
 * - Memory is bounded: dirty buffers by `dirtyLimitBytes` (writers spill early, then wait), decoded
 *   stripes by `cacheLimitBytes`, stores in flight by `maxInflightStripes`, read-ahead by
 *   `maxInflightReadAhead`.
 * - An inode whose last name is gone is released in meta only when the kernel holds no lookup on
 *   it and no handle is open.
 * - Only PalmErrors leave the VFS; messages name the file.
 * - Another device's changes (meta's change feed, remote batches) drop this VFS's caches of them and
 *   are passed on to `onInvalidate` listeners (the kernel); dirty local data is never dropped.
 */
import { PalmVfs } from './vfs.js'
import type { Vfs, VfsComponents, VfsInit } from './types.js'

export type {
  Vfs, VfsComponents, VfsContext, VfsCreateReply, VfsDirent, VfsInit, VfsInvalidation, VfsOpenReply, VfsSetattr, VfsStatfs,
  VfsStats, VfsTimeSet
} from './types.js'
export {
  DEFAULT_CACHE_LIMIT_BYTES, DEFAULT_DIRTY_LIMIT_BYTES, DEFAULT_MAX_INFLIGHT_STRIPES, DEFAULT_READ_AHEAD_BYTES,
  DEFAULT_STRIPE_SIZE_BYTES, XATTR_HEALTH, XATTR_POLICY
} from './constants.js'
export { parsePolicy, formatPolicy } from './policy.js'

/** Builds a VFS over `components.meta` and `components.stripes` (no I/O until used). */
export function createVfs (init: VfsInit, components: VfsComponents): Vfs {
  return new PalmVfs(init, components)
}

/** Factory form (js-libp2p style): `vfs(init)(components)`. */
export function vfs (init: VfsInit = {}): (components: VfsComponents) => Vfs {
  return (components) => createVfs(init, components)
}
