/**
 * fsck's view of the fragments other devices hold: one batched `has` per online holder, and for
 * every holder that could not be asked, why (offline, no answer, or no network because no daemon
 * runs for this home). Device names come from the membership view, or the peers file when offline.
 */
import { readFile } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import type { StripeRef } from '../meta/types.js'
import type { DaemonParts } from './daemon.js'

/** Why a holder's fragments could not be checked. */
export type Unreached = 'offline' | 'did not answer' | 'not asked'

export interface RemotePresence {
  /** Keys "device cid": whether the device has the fragment. Absent: not known (see `unreached`). */
  present: Map<string, boolean>
  /** Holders that could not be asked, and why. */
  unreached: Map<string, Unreached>
}

/** How long one holder may take to answer a batch. */
const HAS_TIMEOUT_MS = 30_000

/** Whether other devices hold the fragments the stripes place on them. */
export async function remotePresence (parts: Pick<DaemonParts, 'net' | 'deviceId'>, stripes: StripeRef[]): Promise<RemotePresence> {
  const out: RemotePresence = { present: new Map(), unreached: new Map() }
  const byHolder = new Map<string, Set<string>>()
  for (const s of stripes) {
    s.fragments.forEach((cid, i) => {
      const holders = s.holders[i] ?? []
      if (holders.length === 0 || holders.includes(parts.deviceId)) return
      for (const h of holders) byHolder.set(h, (byHolder.get(h) ?? new Set()).add(cid))
    })
  }
  const net = parts.net
  await Promise.all([...byHolder].map(async ([holder, cids]) => {
    if (net == null) { out.unreached.set(holder, 'not asked'); return }
    if (net.membership.get(holder)?.online !== true) { out.unreached.set(holder, 'offline'); return }
    const list = [...cids]
    try {
      const present = await net.fragments.has(holder, list.map(c => CID.parse(c)), { signal: AbortSignal.timeout(HAS_TIMEOUT_MS) })
      list.forEach((c, i) => out.present.set(`${holder} ${c}`, present[i]))
    } catch {
      out.unreached.set(holder, 'did not answer')
    }
  }))
  return out
}

/** "name (id)" for a device: from the membership view, else from the home's peers file. */
export async function deviceNamer (parts: Pick<DaemonParts, 'net' | 'paths'>): Promise<(id: string) => string> {
  const net = parts.net
  if (net != null) return (id) => net.membership.describe(id)
  const names = new Map<string, string>()
  try {
    const doc = JSON.parse(await readFile(parts.paths.peersFile, 'utf8')) as { peers?: Array<{ id?: unknown, name?: unknown }> }
    for (const p of doc.peers ?? []) if (typeof p.id === 'string' && typeof p.name === 'string' && p.name !== '') names.set(p.id, p.name)
  } catch {}
  return (id) => names.has(id) ? `${names.get(id) ?? ''} (${id})` : id
}
