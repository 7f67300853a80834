/**
 * PALM's FUSE binding: libfuse 3's low-level (inode) API behind a promise-based TypeScript surface
 * (types.ts). Forked from @cocalc/fuse-native (MIT) — its design of fuse threads handing requests
 * to the JS thread through a uv_async wake-up and a bounded wait is kept; the fuse threads no
 * longer block per request. See docs/fuse-binding.md for the design, measurements and decisions.
 *
 * Invariants: every kernel request is answered exactly once (by the handler's settled promise, or
 * ETIMEDOUT after `timeoutMs`, or EIO at unmount); write data handed to a handler is valid until its
 * promise settles; inodes, sizes, offsets and fh are JS numbers below 2^53 (larger offsets are
 * refused with EFBIG or read as end of file). The mount helpers (mounts.ts, system.ts) work without
 * the addon and never block on a hung mount.
 */
import { DIRENT_HEADER_BYTES, DIRENTPLUS_HEADER_BYTES } from './constants.js'

export { mount, resolveMountOptions } from './session.js'
export { checkFuseSystem, type FuseSystemCheck } from './system.js'
export {
  isStaleMount, recoverStaleMount, unmountPath, findMount, readMounts, parseMountinfo, type MountEntry
} from './mounts.js'
export { loadFuseAddon } from './load.js'
export { RENAME_EXCHANGE, RENAME_NOREPLACE } from './constants.js'
export type * from './types.js'

/**
 * Bytes a directory entry named `name` takes in the kernel's readdir buffer (`plus`: readdirplus):
 * the header (24 or 152 bytes) plus the UTF-8 name, rounded up to 8. A readdir handler can stop
 * adding entries once their sum would pass `size`.
 */
export function direntSize (name: string, plus: boolean): number {
  const len = (plus ? DIRENTPLUS_HEADER_BYTES : DIRENT_HEADER_BYTES) + Buffer.byteLength(name)
  return (len + 7) & ~7
}
