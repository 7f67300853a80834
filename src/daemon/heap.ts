/**
 * The daemon's V8 heap setting. A daemon moves fragments through ArrayBuffers at tens to hundreds
 * of MB/s (stripes, fragments, frames, noise messages), many of which live long enough (a store's
 * round trips) to be promoted. Node 20's V8 counts the ArrayBuffer bytes allocated since the last
 * mark-compact against the old generation's limit, which it grows from the live heap by a dynamic
 * factor that came out near 2 here: with ~23 MB live, a limit of 56–62 MB. A daemon reached it every
 * ~100 ms and paid a whole-heap mark-compact (~50 ms of CPU with its helper threads) each time.
 * A fixed factor of 4 (`--heap-growing-percent=300`) leaves ~70 MB of room instead. V8's own
 * external-memory rule (a mark-compact after 64 MB of ArrayBuffer growth) still bounds the buffers
 * that wait for collection. Measured in docs/performance.md ("The daemon's heap").
 *
 * The flag is read each time V8 recomputes its limits, so setting it at start-up works (heap size
 * flags would not, and NODE_OPTIONS refuses them); `node --v8-options` lists it (test/unit/daemon).
 */
import { setFlagsFromString } from 'node:v8'

/** How much the old generation may grow past its live size before a mark-compact: factor 1 + this / 100. */
export const HEAP_GROWING_PERCENT = 300

/** Applies the daemon's heap setting to this process (once, before the daemon starts). */
export function tuneDaemonHeap (): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
}
