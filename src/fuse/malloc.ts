/**
 * glibc's malloc thresholds through the FUSE binding, the one native addon PALM builds (the daemon
 * decides the values and why: src/daemon/malloc.ts). Loaded on call, as mount.ts loads it, so a
 * command that never mounts needs the addon only here.
 */
import { loadFuseAddon } from '../../native/fuse/load.js'

/**
 * Sets M_MMAP_THRESHOLD and M_TRIM_THRESHOLD for the whole process. Returns undefined when applied,
 * else why not (no addon built, an addon built before this helper, not glibc, values refused).
 */
export function setMallocThresholds (mmapThreshold: number, trimThreshold: number): string | undefined {
  let addon
  try {
    addon = loadFuseAddon()
  } catch (err) {
    return (err as Error).message
  }
  if (typeof addon.tuneMalloc !== 'function') return 'the FUSE addon predates tuneMalloc: run `npm rebuild`'
  return addon.tuneMalloc(mmapThreshold, trimThreshold) ? undefined : 'the C library is not glibc, or it refused the values'
}
