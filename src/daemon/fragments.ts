/**
 * `palm get CID` and `palm gc`: one fragment by CID, and collection of unreferenced fragments.
 */
import { CID } from 'multiformats/cid'
import type { PalmConfig } from '../config/defaults.js'
import { InvalidArgumentError, NotFoundError } from '../errors.js'
import { collectGarbage } from '../store/index.js'
import type { DaemonParts } from './daemon.js'
import type { AbortOptions } from '../util/abort.js'
import type { GcResult, ProgressFn } from './control-api.js'

/** What a GC pass reads: the journal, the store, foreign fragments, and the VFS's pin when there is one. */
export type GcParts = Pick<DaemonParts, 'meta' | 'store' | 'foreign' | 'journal'> & { vfs?: Pick<DaemonParts['vfs'], 'uncommittedSinceMs'> }

function parse (cid: string): CID {
  try {
    return CID.parse(cid)
  } catch (err) {
    throw new InvalidArgumentError(`"${cid}" is not a CID; fragment CIDs look like bafkr4i… (bafkrei… for format version 1)`, { cause: err })
  }
}

/** From this device's store, else from any connected device of the swarm that has it. */
export async function getFragment (parts: DaemonParts, text: string): Promise<Uint8Array> {
  const cid = parse(text)
  if (await parts.store.has(cid)) return await parts.store.get(cid)
  const net = parts.net
  if (net != null) {
    for (const peer of net.connectedPeers()) {
      try {
        return await net.fragments.get(peer, cid, { signal: AbortSignal.timeout(10_000) })
      } catch {}
    }
  }
  throw new NotFoundError(`fragment ${text} is not on this device${net != null ? ' nor on any connected device' : ''}`, { details: { cid: text } })
}

/** Reads of the fragments to keep, at most: a merge landing during each of them makes them read again. */
const KEPT_READS = 5

/**
 * Fragments the journal references (live versions) or holds for undo. The two are read one after
 * the other, not from one snapshot, and a merge of other devices' ops moves versions between them:
 * a version this device had overwritten (kept for undo) comes back as a conflict copy (live, and in
 * no undo record any more), or a live version is overwritten by a late op (kept for undo from then
 * on). Read across such a commit, a version is in neither set and its fragments are collected: a
 * file in the tree that no device can read (found on the namespace LAN, right after a heal). So a
 * merge committed while they are read makes them read again; after KEPT_READS tries (a device
 * pulling without pause) the round keeps every fragment.
 */
async function keptFragments (parts: GcParts, vectors: ReadonlyMap<string, ReadonlyMap<string, number>>, options: AbortOptions): Promise<Set<string> | 'all'> {
  for (let i = 0; i < KEPT_READS; i++) {
    let merged = false
    const stop = parts.meta.onChange(() => { merged = true }, { remoteOnly: true })
    try {
      const own = new Set<string>()
      for await (const cid of parts.meta.referencedFragments(options)) own.add(cid)
      for await (const cid of parts.meta.heldFragments({ ...options, vectors })) own.add(cid)
      if (!merged) return own
    } finally {
      stop()
    }
  }
  return 'all'
}

/**
 * Deletes stored fragments that no file of the journal references (every device holds the whole
 * replicated journal, so this covers fragments other devices placed here too) and that are older
 * than the grace period, and says what it kept and why. Versions that undo records still name (a
 * late op could bring them back) are kept. Fragments other devices placed here get a longer grace
 * (`foreignGcGraceMs`): the journal ops naming them may still be on their way from a device that
 * went offline right after its write.
 */
export async function runGc (parts: GcParts, config: PalmConfig, options: AbortOptions & { dryRun?: boolean, onProgress?: ProgressFn } = {}): Promise<GcResult> {
  // Undo records no late op can need any more go first: the versions only they named become garbage
  // (a dry run only leaves out what that compaction would drop).
  const vectors = parts.journal?.peerVectors() ?? new Map()
  // Stores the VFS has not committed yet name fragments the journal does not (a slow placement
  // can take longer than the grace period), and a commit landing while the references below are
  // read is in neither: every fragment put since the oldest such store, or since this pass
  // began, stays. Read before the references, so a commit in between is covered too (a store
  // that starts later puts its fragments after `startedMs`).
  const startedMs = Date.now()
  const pinnedMs = Math.min(startedMs, parts.vfs?.uncommittedSinceMs() ?? Infinity)
  if (options.dryRun !== true) await parts.meta.compactUndo({ vectors }, options)
  const foreign = await parts.foreign.load()
  const own = await keptFragments(parts, vectors, options)
  const total = parts.store.usage().fragmentCount
  if (own === 'all') {
    return { deleted: 0, freedBytes: 0, dryRun: options.dryRun === true, scanned: total, referenced: total, foreign: 0, young: 0, youngBytes: 0, pinned: 0, pinnedBytes: 0, graceMs: config.gcGraceMs, nextEligibleInMs: null, putOff: true }
  }
  const foreignCutoff = Date.now() - config.foreignGcGraceMs
  let foreignKept = 0
  const report = await collectGarbage(parts.store, {
    referenced: own,
    // Asked once per unreferenced fragment: another device placed it here, recently.
    keep: (cid, storedAtMs) => storedAtMs >= foreignCutoff && foreign.has(cid) && ++foreignKept > 0,
    graceMs: config.gcGraceMs,
    // A second of slack for the store's own clock reading (a fragment file's mtime).
    keepFromMs: pinnedMs - 1000,
    dryRun: options.dryRun,
    onProgress: options.onProgress == null ? undefined : (done) => options.onProgress?.({ task: 'gc', phase: 'scanning fragments', done, total: Math.max(total, done), unit: 'fragments' })
  }, options)
  return {
    deleted: report.deleted,
    freedBytes: report.deletedBytes,
    dryRun: options.dryRun === true,
    scanned: report.scanned,
    referenced: report.referenced - foreignKept,
    foreign: foreignKept,
    young: report.young,
    youngBytes: report.youngBytes,
    pinned: report.pinned,
    pinnedBytes: report.pinnedBytes,
    graceMs: config.gcGraceMs,
    nextEligibleInMs: report.oldestYoungMs == null ? null : Math.max(0, report.oldestYoungMs + config.gcGraceMs - Date.now())
  }
}
