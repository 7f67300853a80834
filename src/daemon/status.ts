/**
 * `palm status`: this device, the swarm, capacity and protection, from the daemon's parts.
 */
import type { PalmConfig } from '../config/defaults.js'
import { PoolStripeIO } from '../place/index.js'
import type { DaemonParts } from './daemon.js'
import type { PeerJournalStatus, PeerStatus, StatusReport } from './control-api.js'
import type { JournalStats, PeerJournalStats } from '../net/index.js'
import { describeProtection } from './protection.js'
import { PALM_VERSION } from './version.js'

export function peerStatus (parts: Pick<DaemonParts, 'net' | 'journal'>): PeerStatus[] {
  if (parts.net == null) return []
  const journal = new Map((parts.journal?.stats().peers ?? []).map(j => [j.id, j]))
  const now = Date.now()
  return parts.net.membership.peers().map(p => ({
    id: p.id,
    name: p.name,
    online: p.online,
    addrs: p.addrs,
    capacityBytes: p.capacityBytes,
    usedBytes: p.usedBytes,
    freeBytes: p.freeBytes,
    fragmentCount: p.fragmentCount,
    lastSeenMs: p.lastSeenMs === 0 ? null : Math.max(0, Date.now() - p.lastSeenMs),
    ...(p.rttMs != null ? { rttMs: p.rttMs } : {}),
    ...journalOf(journal.get(p.id), now)
  }))
}

function journalOf (j: PeerJournalStats | undefined, now: number): { journal?: PeerJournalStatus } {
  if (j == null) return {}
  return {
    journal: {
      lagOps: j.peerLag,
      behindOps: j.opsBehind,
      vectorKnown: j.vectorKnown,
      lastSyncMs: j.lastSyncMs === 0 ? null : Math.max(0, now - j.lastSyncMs),
      opsReceived: j.opsReceived,
      opsApplied: j.opsApplied,
      opsRefused: j.opsRefused,
      opsPushed: j.opsPushed,
      floodRefusals: j.floodRefusals
    }
  }
}

function networkStats (net: NonNullable<DaemonParts['net']>): NonNullable<StatusReport['network']> {
  const s = net.stats()
  return {
    listen: net.multiaddrs().map(a => a.toString()),
    refusedConnections: s.refusedConnections,
    fragment: { ...s.fragment },
    health: { ...s.health }
  }
}

function journalTotals (s: JournalStats): NonNullable<StatusReport['replication']> {
  return { opsHeld: s.opsHeld, authors: s.authors, protocol: { ...s.protocol } }
}

/** Devices expected back (offline, seen within the repair grace) that have not answered yet. */
function missingDevices (parts: Pick<DaemonParts, 'stripes'>): NonNullable<StatusReport['missingDevices']> {
  if (!(parts.stripes instanceof PoolStripeIO)) return []
  const now = Date.now()
  return parts.stripes.devices.missing(now).map(p => ({ id: p.id, name: p.name, lastSeenMs: Math.max(0, now - p.lastSeenMs) }))
}

export interface StatusInfo {
  mountpoint: string | null
  running: boolean
  /** The daemon is still waiting for the devices it knew (`swarmWaitMs`). */
  starting: boolean
  /** URL of the status page, when served. */
  dashboard: string | null
  uptimeMs: number
}

export async function buildStatus (parts: DaemonParts, config: PalmConfig, info: StatusInfo): Promise<StatusReport> {
  const usage = parts.store.usage()
  const stats = parts.meta.stats()
  const pool = parts.stripes.usage()
  const peers = peerStatus(parts)
  // This device and every online device whose journal is in sync hold the whole tree.
  const journalCopies = parts.journal == null ? undefined : 1 + peers.filter(p => p.online && p.journal?.vectorKnown === true && p.journal.lagOps === 0).length
  const protection = describeProtection({ policy: parts.swarm.policy, ...await parts.survey.numbers(), journalCopies })
  const journal = parts.meta.health()
  return {
    device: { id: parts.deviceId, name: config.name, version: PALM_VERSION },
    swarm: { id: parts.swarm.id },
    mount: { path: info.mountpoint },
    daemon: { running: info.running, pid: info.running ? process.pid : null, uptimeMs: info.uptimeMs, dashboard: info.dashboard, starting: info.starting },
    capacityBytes: usage.capacityBytes,
    usedBytes: usage.usedBytes,
    freeBytes: usage.freeBytes,
    fragments: usage.fragmentCount,
    files: stats.files,
    dirs: stats.dirs,
    logicalBytes: stats.logicalBytes,
    policy: { k: parts.swarm.policy.k, n: parts.swarm.policy.n },
    protection: protection.sentence,
    protectionDetail: protection,
    usableFreeBytes: pool.usableFreeBytes,
    usableCapacityBytes: pool.usableCapacityBytes,
    peers,
    missingDevices: missingDevices(parts),
    ...(parts.net != null ? { network: networkStats(parts.net) } : {}),
    ...(parts.journal != null ? { replication: journalTotals(parts.journal.stats()) } : {}),
    cache: { ...parts.vfs.stats() },
    ...(parts.stripes instanceof PoolStripeIO ? { place: { ...parts.stripes.stats(), pendingSpread: parts.spreadQueue?.count() ?? 0 } } : {}),
    ...(parts.repairer != null ? { repair: { ...parts.repairer.status(), ...(parts.reencoder != null ? { reencode: parts.reencoder.status() } : {}) } } : {}),
    ...(parts.spotCheck != null ? { spotCheck: parts.spotCheck.stats() } : {}),
    journal: { ok: journal.ok, problems: journal.problems, keptInRedo: journal.keptInRedo }
  }
}
