/**
 * Compaction of pack segments (run after GC deletes): a sealed segment whose dead bytes reach
 * `minDeadRatio` has its live records copied to the active segment, the copies are fdatasynced,
 * and only then is the old file deleted, so a crash at any point loses nothing. Tombstones are
 * copied while the segment they target still exists (else a deleted fragment would come back at
 * the next start). Records whose data no longer matches their CID are handed to `onCorrupt`
 * (quarantine) instead of being copied.
 */
import { unlink } from 'node:fs/promises'
import { throwIfAborted, type AbortOptions } from '../util/abort.js'
import { matchesCid, type CID } from '../util/cid.js'
import { DEFAULT_COMPACT_DEAD_RATIO } from './constants.js'
import { RECORD_FRAGMENT } from './pack-format.js'
import { scanSegment, type ScanTotals } from './pack-scan.js'
import type { PackLocation, PackStore } from './pack-store.js'

/** Options of one compaction pass. */
export interface CompactOptions extends AbortOptions {
  /** Rewrite sealed segments with at least this fraction of dead bytes (0…1). Default 0.5. */
  minDeadRatio?: number
}

/** What one compaction pass did. */
export interface CompactResult {
  /** Segments rewritten and deleted. */
  segments: number
  /** Disk bytes given back (old segment sizes minus what was copied). */
  reclaimedBytes: number
  /** Fragments found corrupt on the way (handed to onCorrupt). */
  corrupt: number
}

/** What compaction needs from the fragment store (its lock and its quarantine). */
export interface CompactHooks {
  /** Runs `fn` holding the fragment's lock (the store's per-CID lock). */
  lock: (key: string, fn: () => Promise<void>) => Promise<void>
  /** A live record failed its CID check: quarantine it (called with the lock held). */
  onCorrupt: (cid: CID, key: string, bytes: Uint8Array, loc: PackLocation) => Promise<void>
}

/** Rewrites every sealed segment with at least `minDeadRatio` dead bytes; cancellable between records. */
export async function compactPacks (packs: PackStore, hooks: CompactHooks, options: CompactOptions = {}): Promise<CompactResult> {
  const minDeadRatio = options.minDeadRatio ?? DEFAULT_COMPACT_DEAD_RATIO
  const active = packs.activeSegment
  const candidates = [...packs.segments()]
    .filter(([segment, info]) => segment !== active && info.sizeBytes > 0 && (info.sizeBytes - info.liveBytes) / info.sizeBytes >= minDeadRatio)
    .map(([segment]) => segment)
  const result: CompactResult = { segments: 0, reclaimedBytes: 0, corrupt: 0 }
  for (const segment of candidates) {
    throwIfAborted(options.signal, 'pack compaction')
    const sizeBytes = packs.segments().get(segment)?.sizeBytes ?? 0
    const written = new Set<number>()
    let copiedBytes = 0
    await packs.withSegment(segment, async fh => {
      const totals: ScanTotals = { validEnd: 0, garbageBytes: 0 }
      for await (const r of scanSegment(fh, sizeBytes, totals, { withData: true, signal: options.signal })) {
        await hooks.lock(r.key, async () => {
          if (r.type === RECORD_FRAGMENT) {
            const current = packs.lookup(r.key)
            if (current?.segment !== segment || current.dataOffset !== r.dataOffset || r.data == null) return
            if (!matchesCid(r.cid, r.data)) {
              result.corrupt++
              await hooks.onCorrupt(r.cid, r.key, r.data, current)
              return
            }
            const loc = await packs.append(r.cid, r.key, r.data, current.storedAtMs)
            written.add(loc.segment)
          } else if (r.target != null && r.target !== segment && packs.segments().has(r.target)) {
            written.add(await packs.appendTombstone(r.cid, r.target))
          } else {
            return
          }
          copiedBytes += r.recordBytes
        })
      }
    })
    // The copies must be on stable storage before the only other copy is deleted.
    await packs.sync(written)
    await packs.dropSegment(segment, unlink)
    result.segments++
    result.reclaimedBytes += Math.max(0, sizeBytes - copiedBytes)
  }
  return result
}
