/**
 * Garbage collection: deletes stored fragments that are not in the referenced set the caller gives
 * and were last put longer ago than the grace period. Fragments are written before the journal
 * references them, so a young fragment is never deleted. GC is a plain function with explicit
 * inputs on purpose: in a pool a device must never delete a fragment only because its own journal
 * does not reference it; the daemon decides what "referenced" means (its journal plus what peers
 * claim) and when GC runs. The age check and the delete happen under the store's per-fragment lock
 * (`deleteIfOlder`), so a concurrent put of the same fragment always wins.
 */
import { InvalidArgumentError } from '../errors.js'
import { throwIfAborted, type AbortOptions } from '../util/abort.js'
import type { Logger } from '../util/logger.js'
import type { FragmentAges } from './types.js'

/** The explicit inputs of one GC pass. */
export interface GcInit {
  /** Fragments to keep, by CID string: everything any known manifest references. */
  referenced: { has: (cid: string) => boolean }
  /**
   * Unreferenced fragments put less than this many ms ago are kept. Must exceed the time from a
   * fragment's put to its journal entry, and the time the caller took to build `referenced`.
   */
  graceMs: number
  /** The current time, ms since the epoch. Default Date.now(). */
  nowMs?: number
  /**
   * Unreferenced fragments put at or after this time are kept too, as young: a writer holds stored
   * stripes its journal does not name yet (an open file's stores before its commit, a compaction
   * before its op), for however long that takes. Undefined: none.
   */
  keepFromMs?: number
  /** Also kept: fragments for which this says so (given the CID and when it was stored). */
  keep?: (cid: string, storedAtMs: number) => boolean
  /** Compact pack segments afterwards (when the store has `compact`). Default true. */
  compact?: boolean
  /** Count what would be deleted, delete nothing. */
  dryRun?: boolean
  /** Called after each fragment looked at, with how many so far. */
  onProgress?: (scanned: number) => void
  /** Where to log deletions (a `palm:store:gc` logger). */
  log?: Logger
}

/** What one GC pass did. */
export interface GcReport {
  scanned: number
  referenced: number
  /** Unreferenced but younger than the grace period, or put since keepFromMs. */
  young: number
  youngBytes: number
  /** Of `young`, those past the grace period, kept only because they were put since keepFromMs. */
  pinned: number
  pinnedBytes: number
  /** The oldest put time of a young fragment within the grace period, ms since the epoch (undefined when none). */
  oldestYoungMs?: number
  /** Deleted, or with dryRun the ones that would be. */
  deleted: number
  deletedBytes: number
  /** What compaction reported, if it ran. */
  compaction?: unknown
  durationMs: number
}

/** One GC pass over `store`. Cancellable between fragments. */
export async function collectGarbage (store: FragmentAges, init: GcInit, options: AbortOptions = {}): Promise<GcReport> {
  if (!(Number.isFinite(init.graceMs) && init.graceMs >= 0)) {
    throw new InvalidArgumentError(`GC grace period must be a finite number of ms ≥ 0, got ${init.graceMs}`)
  }
  const started = performance.now()
  const nowMs = init.nowMs ?? Date.now()
  const graceCutoffMs = nowMs - init.graceMs
  const cutoffMs = Math.min(graceCutoffMs, init.keepFromMs ?? Infinity)
  const report: GcReport = { scanned: 0, referenced: 0, young: 0, youngBytes: 0, pinned: 0, pinnedBytes: 0, deleted: 0, deletedBytes: 0, durationMs: 0 }
  const young = (storedAtMs: number, sizeBytes: number): void => {
    report.young++
    report.youngBytes += sizeBytes
    if (storedAtMs < graceCutoffMs) {
      report.pinned++
      report.pinnedBytes += sizeBytes
    } else {
      report.oldestYoungMs = Math.min(report.oldestYoungMs ?? Infinity, storedAtMs)
    }
  }
  for await (const entry of store.entries(options)) {
    throwIfAborted(options.signal, 'garbage collection')
    report.scanned++
    init.onProgress?.(report.scanned)
    const key = entry.cid.toString()
    if (init.referenced.has(key) || init.keep?.(key, entry.storedAtMs) === true) { report.referenced++; continue }
    if (entry.storedAtMs >= cutoffMs) { young(entry.storedAtMs, entry.sizeBytes); continue }
    if (init.dryRun === true) {
      report.deleted++
      report.deletedBytes += entry.sizeBytes
    } else if (await store.deleteIfOlder(entry.cid, cutoffMs, options)) {
      report.deleted++
      report.deletedBytes += entry.sizeBytes
      init.log?.trace('deleted unreferenced fragment %s (%d bytes)', key, entry.sizeBytes)
    } else {
      // Put again while this pass ran: as young as now.
      young(nowMs, entry.sizeBytes)
    }
  }
  if (init.dryRun !== true && init.compact !== false && store.compact != null && report.deleted > 0) {
    report.compaction = await store.compact(options)
  }
  report.durationMs = Math.round(performance.now() - started)
  init.log?.('gc: %d fragments scanned, %d deleted (%d bytes), %d young kept', report.scanned, report.deleted, report.deletedBytes, report.young)
  return report
}
