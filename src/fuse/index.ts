/**
 * @packageDocumentation
 * The FUSE layer: path of every kernel request into the VFS. Thin by rule: one handler per op
 * (ops.ts) turns a FuseOps call into a Vfs call with a deadline, and `toErrno` (errno.ts) is the
 * only place where errors become errno numbers. notify.ts tells the kernel what other devices
 * changed (queued off the op path; the binding's notifier thread sends it). Nothing here knows
 * about stripes, the journal or the network.
 *
 * Invariants: every request is answered exactly once (the binding guarantees it; a VFS call still
 * running at its deadline is answered EIO and its late result dropped); unknown errors are logged
 * with their stack and become EIO, never ENOENT or ENOSYS.
 */
export { mountVfs, isStaleMount, recoverStaleMount, unmountPath, type MountInit, type MountedFs } from './mount.js'
export { createFuseOps, FuseErrno, type FuseOpsInit } from './ops.js'
export { toErrno, errnoName } from './errno.js'
export { KernelNotifier, type NotifierStats } from './notify.js'
export { setMallocThresholds } from './malloc.js'
