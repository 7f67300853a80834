/**
 * The control API: what the CLI (and the status page) may ask of a device. Served as JSON over HTTP
 * on the home's unix socket (run/palm.sock), and in-process when no daemon runs. The JSON field names
 * are a contract other tools build on: add fields, never rename them.
 */
import type { ReencodeStatus, RepairStatus } from '../repair/index.js'

/** Repair's part of `palm status --json` (docs/repair.md; the fields are documented in src/repair/repairer.ts and reencoder.ts). */
export type RepairReport = RepairStatus & { reencode?: ReencodeStatus }

export interface PeerStatus {
  id: string
  name: string
  online: boolean
  addrs: string[]
  capacityBytes: number
  usedBytes: number
  freeBytes: number
  fragmentCount: number
  lastSeenMs: number | null
  rttMs?: number
  /** Journal replication with this device (absent until it has talked journal with this one). */
  journal?: PeerJournalStatus
}

export interface PeerJournalStatus {
  /** Ops this device holds that that device lacks: its journal lag as seen from here (0 until its vector is known). */
  lagOps: number
  /** Ops that device holds that this one lacks. */
  behindOps: number
  /** Its version vector is known here (else lagOps means nothing yet). */
  vectorKnown: boolean
  /** Ms since the last pull from it or push to it completed (null: never). */
  lastSyncMs: number | null
  opsReceived: number
  opsApplied: number
  opsRefused: number
  opsPushed: number
  /** Pushes refused because it sent faster than allowed. */
  floodRefusals: number
}

export interface ProtectionDetail {
  /** The plain sentence (same as StatusReport.protection). */
  sentence: string
  /** Devices whose loss every file survives right now (0 alone). */
  deviceLossesSurvivable: number
  /** Stripes with fewer than n fragments on distinct online devices. */
  stripesBelowN: number
  /** Fragments waiting to be spread to more devices. */
  pendingSpread: number
  /** Stripes whose fragments are reachable now, of all stripes. */
  stripesReachable: number
  stripesTotal: number
  /**
   * Devices holding the whole journal now (this one and the online devices whose journal is in
   * sync): the tree's names and manifests survive the loss of all but one of them. Absent without
   * the network (a device alone holds the only copy).
   */
  journalCopies?: number
}

export interface StatusReport {
  device: { id: string, name: string, version: string }
  swarm: { id: string }
  mount: { path: string | null }
  /**
   * `dashboard`: URL of the status page on 127.0.0.1 (null when off or no daemon runs); `starting`:
   * the daemon is still waiting (at most `swarmWaitMs`) for the devices it knew to answer.
   */
  daemon: { running: boolean, pid: number | null, uptimeMs: number, dashboard: string | null, starting?: boolean }
  /** Capacity this device offers, bytes. */
  capacityBytes: number
  /** Bytes of fragments stored on this device. */
  usedBytes: number
  freeBytes: number
  fragments: number
  /** Files (non-directories) in the folder. */
  files: number
  dirs: number
  /** Sum of file sizes, bytes. */
  logicalBytes: number
  policy: { k: number, n: number }
  /** A plain sentence saying what loss the data survives now. */
  protection: string
  protectionDetail: ProtectionDetail
  /** Usable capacity as `df` shows it (free × k/n), bytes. */
  usableFreeBytes: number
  usableCapacityBytes: number
  peers: PeerStatus[]
  /**
   * Devices expected back that have not answered: offline, seen within the repair grace (a restart,
   * or not found again yet since this daemon started). Reads that need them wait for them.
   * `lastSeenMs`: how long ago, ms. Empty without a network.
   */
  missingDevices?: Array<{ id: string, name: string, lastSeenMs: number }>
  /** Network counters (absent when the network is off): protocol requests, junk refused, refused connections. */
  network?: {
    listen: string[]
    refusedConnections: number
    fragment: Record<string, number>
    health: Record<string, number>
  }
  /** Journal replication: ops held (sum of the version vector), authors, protocol counters. */
  replication?: { opsHeld: number, authors: number, protocol: Record<string, number> }
  cache?: Record<string, number>
  /** Stripe placement counters of the pool (stripes written/read, ms spent encoding, storing, reading), when the network is on. */
  place?: Record<string, number>
  /** Repair (docs/repair.md), when the network is on: device states, stripes below n by margin, work left and done. */
  repair?: RepairReport
  /** Acknowledged puts fetched back (spot-check.ts): samples taken, checked, passed, and the devices caught lying. */
  spotCheck?: { sampled: number, checked: number, passed: number, liars: Array<{ id: string, cid: string, reason: string, atMs: number }> }
  /**
   * The journal's files: `ok` false when damage was found (this start or an earlier one, noted in
   * `<home>/damaged/journal-damage.log`) or when answered changes could not be committed; each
   * problem is one sentence saying what was lost or kept, where, and what to do.
   */
  journal: { ok: boolean, problems: string[], keptInRedo: number }
}

export interface FsckProblem {
  kind: 'missing' | 'corrupt' | 'orphan' | 'dangling' | 'nlink' | 'unreadable' | 'unreachable' | 'journal'
  /** File path when known. */
  file?: string
  cid?: string
  ino?: number
  /** `unreachable`: the devices (ids) that hold the fragments the file waits for. */
  devices?: string[]
  detail: string
}

/** One fragment `palm fsck --repair` rebuilt. */
export interface FsckRepair {
  file?: string
  ino: number
  cid: string
  detail: string
}

export interface FsckReport {
  clean: boolean
  stripesChecked: number
  fragmentsChecked: number
  problems: FsckProblem[]
  counts: Record<FsckProblem['kind'], number>
  /** Unreferenced fragments awaiting garbage collection (not a problem). */
  garbageFragments: number
  /** Fragments of readable stripes on devices that could not be asked (not checked, not a problem). */
  unverifiedFragments: number
  /** Devices holding fragments of this device's files that could not be asked, and why. */
  unreachedDevices: Array<{ id: string, name: string, why: 'offline' | 'did not answer' | 'not asked' }>
  /** Fragments rebuilt by --repair. */
  repaired: number
  /** The rebuilt fragments (the first 1000). */
  repairs: FsckRepair[]
  /** Set when --repair rebuilt a damaged journal from its op log first. */
  journalRebuilt?: { ops: number, applied: number, rejected: number, keptAt: string[] }
  durationMs: number
}

export interface InviteReport {
  /** Single use; carries an invite id, a secret and the addresses, never the swarm key. */
  code: string
  addrs: string[]
  /** When the code stops working (ISO 8601). */
  expiresAt: string
  /** A daemon with the network runs now, so the code can be used at once. */
  listening: boolean
}

export interface RemoveReport {
  id: string
  /** Its last known name ('' when never heard). */
  name: string
  /** False when it was removed already (nothing new was logged). */
  removed: boolean
  /** The key epoch the swarm was re-keyed to now; absent when no re-keying was needed (done before). */
  keyEpoch?: number
}

/** A device holding one fragment (`palm info`). */
export interface FragmentHolder {
  id: string
  name: string
  /** Reachable now (this device always is). */
  online: boolean
  /** This device. */
  self: boolean
}

/** `palm info PATH`: a file's stripes, their fragments' CIDs and holders, and its health. */
export interface FileInfo {
  /** The path inside the folder ("/a/b.txt"). */
  path: string
  type: string
  size: number
  /** "4-of-6". */
  policy: string
  /** The weakest stripe: fragments reachable now, needed (k), total (n), devices holding reachable ones; `text` as user.palm.health. */
  health: { reachable: number, needed: number, total: number, devices: string[], text: string }
  stripes: Array<{ index: number, length: number, fragments: Array<{ index: number, cid: string, holders: FragmentHolder[] }> }>
}

/** How far a long task is (`palm fsck`, `palm gc`): streamed to the CLI, which draws it. */
export interface ProgressEvent {
  task: string
  /** What is being done now ("checking stripes", "scanning fragments"). */
  phase: string
  done: number
  /** Known total for this phase (0 when unknown). */
  total: number
  /** What `done` counts ("stripes", "fragments"). */
  unit: string
}
export type ProgressFn = (p: ProgressEvent) => void

/** What `palm gc` did and what it kept, and why. */
export interface GcResult {
  deleted: number
  freedBytes: number
  /** True when nothing was deleted on purpose (--dry-run): `deleted`/`freedBytes` say what would go. */
  dryRun: boolean
  /** Fragments stored on this device. */
  scanned: number
  /** Kept: a file of this journal references them. */
  referenced: number
  /** Kept: another device placed them here (their files are in its journal). */
  foreign: number
  /** Kept: unreferenced but younger than the grace period (a write may not have reached the journal yet), or pinned. */
  young: number
  youngBytes: number
  /**
   * Of `young`, those past the grace period, kept because a file open for writing on this device
   * had stored stripes its journal did not name yet when they were put (they go once it is closed
   * or fsynced, and the pass after that runs).
   */
  pinned: number
  pinnedBytes: number
  /** The grace period, ms (setting gcGraceMs / PALM_GC_GRACE). */
  graceMs: number
  /** When the oldest young fragment within the grace period leaves it, ms from now (null when none is). */
  nextEligibleInMs: number | null
  /** True when nothing was looked at: other devices' ops kept arriving while the journal's references were read (see fragments.ts). */
  putOff?: boolean
}

export interface ControlApi {
  status: () => Promise<StatusReport>
  peers: () => Promise<PeerStatus[]>
  fsck: (options?: { repair?: boolean, onProgress?: ProgressFn }) => Promise<FsckReport>
  /** Removes a device (id, or a name only one known device has) from the swarm with a signed op. */
  remove: (device: string) => Promise<RemoveReport>
  /** A new single-use invite code valid for `ttlMs` (default 1 h). */
  invite: (options?: { ttlMs?: number }) => Promise<InviteReport>
  /** Flush, unmount and stop the daemon. */
  stop: () => Promise<{ stopping: true }>
  /** A fragment's bytes by CID (from this device or the swarm). */
  getFragment: (cid: string) => Promise<Uint8Array>
  gc: (options?: { dryRun?: boolean, onProgress?: ProgressFn }) => Promise<GcResult>
  /** A file's stripes, fragment CIDs, holders and health; `path` is inside the folder ("a/b.txt"). */
  info: (path: string) => Promise<FileInfo>
  /** Moves every fragment off `device` (id or name) onto other devices (`palm drain`); see DrainReport. */
  drain: (device: string, options?: { onProgress?: ProgressFn }) => Promise<DrainReport>
}

/** What `palm drain` did: when it returns, no file needs the device any more. */
export interface DrainReport {
  device: { id: string, name: string }
  stripesMoved: number
  fragmentsMoved: number
  durationMs: number
}

export const CONTROL_ROUTES = {
  status: 'GET /v1/status',
  peers: 'GET /v1/peers',
  fsck: 'POST /v1/fsck',
  invite: 'POST /v1/invite',
  remove: 'POST /v1/remove',
  stop: 'POST /v1/stop',
  getFragment: 'GET /v1/fragments',
  gc: 'POST /v1/gc',
  info: 'GET /v1/info?path=',
  drain: 'POST /v1/drain'
} as const
