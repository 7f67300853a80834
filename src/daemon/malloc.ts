/**
 * The daemon's malloc settings. A daemon allocates buffers of 1–4 MiB at tens to hundreds of MB/s:
 * stripes, fragments, the output of every AES and SHA pass over a stripe, the noise messages of a
 * fragment. glibc serves an allocation that large with a fresh mmap (or grows an arena and trims it
 * back at the next free), so each one came back as new pages: ~1,000 page faults per 4 MiB, each
 * zeroing a page in the kernel. On this machine one `aes-256-ctr` update over 4 MiB took 13 ms of
 * CPU, half of it system time, against 1 ms when the output buffer reuses memory; a worker's
 * stripe decode 21 ms against 11 ms (docs/performance.md, "malloc").
 *
 * With a fixed mmap threshold of 32 MiB and a trim threshold of 64 MiB, freed stripe-sized blocks
 * stay in the process and are reused. The cost: each malloc arena (the main thread's, and one per
 * thread that allocates: chunk workers, libuv's pool) keeps up to 64 MiB free at its top instead of
 * returning it; the buffers in use are bounded by the daemon's own budgets. Peak RSS moved within
 * the runs' spread (docs/performance.md, "malloc"). glibc reads the same settings
 * from GLIBC_TUNABLES at start; they are set here so that every way of starting a daemon gets them.
 * Huge pages can only come from GLIBC_TUNABLES, which the daemon's starter sets (daemon-env.ts).
 */
import { setMallocThresholds } from '../fuse/index.js'
import type { Logger } from '../util/logger.js'
import { DAEMON_TUNABLES, startedWithDaemonEnv } from './daemon-env.js'

/** Allocations of at least this many bytes get their own mmap (glibc's default max for its dynamic threshold). */
export const MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
/** Free memory an arena keeps at its top before giving it back to the system. */
export const TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024

/**
 * Applies the daemon's malloc settings to this process (once, at start). Returns false, and logs
 * why, where they cannot be applied (no FUSE addon built, not glibc): the daemon runs the same,
 * with more CPU per byte.
 */
export function tuneDaemonMalloc (log: Logger): boolean {
  if (!startedWithDaemonEnv()) log('started without GLIBC_TUNABLES=%s (huge pages for stripe buffers): it runs as well, at more CPU per byte; `palm mount` and the systemd unit set it, else export it before starting the daemon', DAEMON_TUNABLES)
  const why = setMallocThresholds(MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES)
  if (why === undefined) return true
  log('malloc settings not applied (the daemon runs as well, at more CPU per byte): %s', why)
  return false
}
