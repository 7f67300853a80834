/**
 * Scrubbing: re-reads every stored fragment through the store's verifying `get`, so a fragment
 * whose bytes no longer match its CID (bit rot, a torn write after power loss) is quarantined by
 * the store and reported here. Rate-limited in bytes per second so that it does not compete with
 * the file system's own reads; cancellable between fragments. Repair treats what it reports as
 * missing.
 */
import { IntegrityError, NotFoundError } from '../errors.js'
import { delay, throwIfAborted, type AbortOptions } from '../util/abort.js'
import type { CID } from '../util/cid.js'
import type { Logger } from '../util/logger.js'
import { DEFAULT_SCRUB_BYTES_PER_SECOND } from './constants.js'
import type { FragmentStore } from './types.js'

/** Bad CIDs listed in a report at most (the counts are exact). */
const MAX_LISTED = 1000

/** Options of one scrub pass. */
export interface ScrubOptions extends AbortOptions {
  /** Read budget in bytes per second. Default 32 MiB/s; `Infinity` reads as fast as the disk allows. */
  bytesPerSecond?: number
  /** Called for each bad fragment (corrupt or unreadable), after the store dealt with it. */
  onBad?: (cid: CID, err: Error) => void
  /** Where to log bad fragments (a `palm:store:scrub` logger). */
  log?: Logger
}

/** What one scrub pass found. */
export interface ScrubReport {
  /** Fragments read and verified. */
  checked: number
  /** Bytes read. */
  bytes: number
  /** CIDs whose bytes did not match (quarantined by the store); at most 1000 listed. */
  corrupt: string[]
  corruptCount: number
  /** CIDs that could not be read (I/O errors), at most 1000 listed. */
  unreadable: string[]
  unreadableCount: number
  /** Listed but deleted before they were read (GC running meanwhile): not a problem. */
  vanished: number
  durationMs: number
}

/** Verifies every fragment of `store`. Rejects with AbortedError/TimeoutError when the signal fires. */
export async function scrubStore (store: Pick<FragmentStore, 'list' | 'get'>, options: ScrubOptions = {}): Promise<ScrubReport> {
  const rate = options.bytesPerSecond ?? DEFAULT_SCRUB_BYTES_PER_SECOND
  const started = performance.now()
  const report: ScrubReport = { checked: 0, bytes: 0, corrupt: [], corruptCount: 0, unreadable: [], unreadableCount: 0, vanished: 0, durationMs: 0 }
  for await (const cid of store.list(options)) {
    throwIfAborted(options.signal, 'scrub')
    try {
      const bytes = await store.get(cid, options)
      report.checked++
      report.bytes += bytes.byteLength
    } catch (err) {
      throwIfAborted(options.signal, 'scrub')
      if (err instanceof NotFoundError) {
        report.vanished++
        continue
      }
      const error = err instanceof Error ? err : new Error(String(err))
      report.checked++
      if (err instanceof IntegrityError) {
        report.corruptCount++
        if (report.corrupt.length < MAX_LISTED) report.corrupt.push(cid.toString())
      } else {
        report.unreadableCount++
        if (report.unreadable.length < MAX_LISTED) report.unreadable.push(cid.toString())
      }
      options.log?.error('scrub: fragment %s is bad: %e', cid.toString(), error)
      options.onBad?.(cid, error)
    }
    if (Number.isFinite(rate) && rate > 0) {
      const aheadMs = (report.bytes / rate) * 1000 - (performance.now() - started)
      if (aheadMs >= 1) await delay(aheadMs, options)
    }
  }
  report.durationMs = Math.round(performance.now() - started)
  return report
}
