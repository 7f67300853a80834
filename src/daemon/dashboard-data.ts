/**
 * What the status page shows, computed from the daemon's parts: the devices (this one first), the
 * protection what-if per device ("if nas is lost, N files become unreadable and M drop below k+1"),
 * and a folder's entries with each file's health.
 */
import { partsOf } from '../meta/index.js'
import { ROOT_INO } from '../meta/types.js'
import { formatHealth, holdersOf, weakestHealth } from '../place/index.js'
import type { AbortOptions } from '../util/abort.js'
import type { FileInfo } from './control-api.js'
import type { DaemonParts } from './daemon.js'
import { fileInfo } from './file-info.js'

export interface DeviceRow {
  id: string
  name: string
  self: boolean
  online: boolean
  capacityBytes: number
  usedBytes: number
  fragments: number
  /** Journal ops this device has that the other has not announced yet (null: unknown). */
  journalLag: number | null
  /** ms since last heard from (0 for this device; null: never). */
  lastSeenMs: number | null
  /** Repair's view: online, grace (away, not yet rebuilt), gone (being rebuilt elsewhere), draining; undefined without repair. */
  repairState?: string
}

export function deviceRows (parts: DaemonParts, name: string): DeviceRow[] {
  const u = parts.store.usage()
  const ops = parts.meta.stats().ops
  const states = new Map((parts.repairer?.status().devices ?? []).map(d => [d.id, d.state as string]))
  const rows: DeviceRow[] = [{ id: parts.deviceId, name, self: true, online: true, capacityBytes: u.capacityBytes, usedBytes: u.usedBytes, fragments: u.fragmentCount, journalLag: 0, lastSeenMs: 0, repairState: states.get(parts.deviceId) }]
  // The replication protocol knows each device's version vector: ops it lacks of those held here.
  const lag = new Map((parts.journal?.stats().peers ?? []).filter(j => j.vectorKnown).map(j => [j.id, j.peerLag]))
  for (const p of parts.net?.membership.peers() ?? []) {
    const head = Number(p.journalHead)
    rows.push({
      id: p.id,
      name: p.name !== '' ? p.name : p.id,
      self: false,
      online: p.online,
      capacityBytes: p.capacityBytes,
      usedBytes: p.usedBytes,
      fragments: p.fragmentCount,
      journalLag: lag.get(p.id) ?? (Number.isFinite(head) && p.journalHead !== '' ? Math.max(0, ops - head) : null),
      lastSeenMs: p.lastSeenMs === 0 ? null : Math.max(0, Date.now() - p.lastSeenMs),
      repairState: states.get(p.id)
    })
  }
  return rows
}

export interface WhatIf {
  id: string
  name: string
  /** Files that could not be read any more if this device were lost now. */
  unreadableFiles: number
  /** Files that would still read but with no spare fragment (fewer than k+1 reachable). */
  belowSpareFiles: number
}

export interface ProtectionView {
  stripes: number
  files: number
  /** Files unreadable right now (fewer than k fragments on online devices). */
  unreadableNow: number
  whatIf: WhatIf[]
  /** True when the walk stopped at `limit` stripes (a very large folder): numbers cover what was walked. */
  partial: boolean
}

/**
 * Walks every stripe once: for each device, how many fragments of the stripe stay reachable
 * without it. A fragment is reachable when a holder is online (this device counts as online).
 */
export async function protectionView (parts: DaemonParts, devices: DeviceRow[], limit = 200_000, options: AbortOptions = {}): Promise<ProtectionView> {
  const online = new Set(devices.filter(d => d.online).map(d => d.id))
  const worst = new Map<string, Map<number, number>>(devices.map(d => [d.id, new Map()]))
  const nowWorst = new Map<number, number>()
  let stripes = 0
  let partial = false
  for await (const { ino, stripe } of parts.meta.allStripes(options)) {
    if (++stripes > limit) { partial = true; break }
    const live = stripe.fragments.map((_, i) => holdersOf(stripe, i, parts.deviceId).filter(h => online.has(h)))
    const reachable = live.filter(h => h.length > 0).length
    nowWorst.set(ino, Math.min(nowWorst.get(ino) ?? Infinity, reachable - stripe.k))
    for (const d of devices) {
      const without = live.filter(h => h.some(x => x !== d.id)).length
      const m = worst.get(d.id) as Map<number, number>
      m.set(ino, Math.min(m.get(ino) ?? Infinity, without - stripe.k))
    }
  }
  const count = (m: Map<number, number>, test: (spare: number) => boolean): number => [...m.values()].filter(test).length
  return {
    stripes: Math.min(stripes, limit),
    files: nowWorst.size,
    unreadableNow: count(nowWorst, s => s < 0),
    whatIf: devices.map(d => ({
      id: d.id,
      name: d.name,
      unreadableFiles: count(worst.get(d.id) as Map<number, number>, s => s < 0),
      belowSpareFiles: count(worst.get(d.id) as Map<number, number>, s => s === 0)
    })),
    partial
  }
}

export interface FolderEntry {
  name: string
  type: string
  size: number
  /** Files: "reachable 6, needed 4, total 6; devices: …" and its numbers. */
  health?: { reachable: number, needed: number, total: number, text: string }
}

/** A folder's entries (at most `max`), files with their health. */
export async function folderView (parts: DaemonParts, path: string, max = 500, options: AbortOptions = {}): Promise<{ path: string, entries: FolderEntry[], more: boolean }> {
  let ino = ROOT_INO
  const names = path.split('/').filter(n => n.length > 0 && n !== '.' && n !== '..')
  for (const name of names) {
    const a = await parts.meta.lookup(ino, name, options)
    if (a == null || a.type !== 'dir') return { path, entries: [], more: false }
    ino = a.ino
  }
  const list = await parts.meta.readdir(ino, 0, max + 1, options)
  const entries: FolderEntry[] = []
  for (const e of list.slice(0, max)) {
    if (e.name === '.' || e.name === '..') continue
    const attr = await parts.meta.getattr(e.ino, options)
    const entry: FolderEntry = { name: e.name, type: attr.type, size: attr.size }
    if (attr.type === 'file') {
      const stripes = await parts.meta.getStripes(e.ino, 0, 1 << 20, options)
      // A stripe's slices are read with it: the weakest of base and slices counts.
      const h = weakestHealth(await Promise.all(stripes.flatMap(partsOf).map(async s => await parts.stripes.health(s, options))))
      if (h != null) entry.health = { reachable: h.reachable, needed: h.needed, total: h.total, text: formatHealth(h) }
    }
    entries.push(entry)
  }
  entries.sort((a, b) => (a.type === 'dir' ? 0 : 1) - (b.type === 'dir' ? 0 : 1) || (a.name < b.name ? -1 : 1))
  return { path: '/' + names.join('/'), entries, more: list.length > max }
}

/** A file's share map (which device holds which fragment). */
export async function shareMap (parts: DaemonParts, name: string, path: string): Promise<FileInfo> {
  return await fileInfo(parts, name, path)
}
