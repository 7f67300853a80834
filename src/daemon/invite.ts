/**
 * `palm invite`: a one-line code with the swarm key and this device's current addresses. When no
 * daemon runs, the addresses the daemon last listened on (run/addrs.json) are used.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { encodeInvite, loadOrCreateSwarmKey } from '../net/index.js'
import type { DaemonParts } from './daemon.js'
import type { InviteReport } from './control-api.js'
import { writeFileAtomic, type SwarmInfo } from './home.js'
import { InvalidArgumentError } from '../errors.js'

function addrsFile (parts: Pick<DaemonParts, 'paths'>): string {
  return join(parts.paths.run, 'addrs.json')
}

/** Records the running node's addresses for invites made while it is down. */
export async function recordAddrs (parts: DaemonParts): Promise<void> {
  if (parts.net == null) return
  await writeFileAtomic(addrsFile(parts), JSON.stringify(parts.net.multiaddrs().map(a => a.toString())) + '\n')
}

async function lastAddrs (parts: DaemonParts): Promise<Multiaddr[]> {
  try {
    const list = JSON.parse(await readFile(addrsFile(parts), 'utf8'))
    return Array.isArray(list) ? list.filter((a): a is string => typeof a === 'string').map(a => multiaddr(a)) : []
  } catch {
    return []
  }
}

/** What an invite tells a joining device about the swarm (besides the key). */
export interface SharedSwarmInfo {
  id: string
  policy: { k: number, n: number }
  stripeSizeBytes: number
}

/** The swarm description as the invite's extra bytes (compact JSON). */
export function encodeSwarmExtra (swarm: SwarmInfo): Uint8Array {
  const shared = { id: swarm.id, k: swarm.policy.k, n: swarm.policy.n, s: swarm.stripeSizeBytes }
  return new TextEncoder().encode(JSON.stringify(shared))
}

/** The swarm description from an invite's extra bytes; undefined for codes that carry none. */
export function decodeSwarmExtra (extra: Uint8Array | undefined): SharedSwarmInfo | undefined {
  if (extra == null) return undefined
  let v: any
  try {
    v = JSON.parse(new TextDecoder().decode(extra))
  } catch (err) {
    throw new InvalidArgumentError('the invite code carries a damaged swarm description; ask for a new code with `palm invite`', { cause: err })
  }
  const ok = typeof v?.id === 'string' && Number.isInteger(v.k) && Number.isInteger(v.n) && v.k >= 1 && v.n >= v.k && v.n <= 255 && Number.isInteger(v.s) && v.s > 0
  if (!ok) throw new InvalidArgumentError('the invite code carries a swarm description this version does not understand; update PALM on this device')
  return { id: v.id, policy: { k: v.k, n: v.n }, stripeSizeBytes: v.s }
}

export async function inviteFor (parts: DaemonParts): Promise<InviteReport> {
  const swarmKey = await loadOrCreateSwarmKey(parts.paths.swarmKey)
  const addrs = parts.net != null ? parts.net.multiaddrs().map(a => multiaddr(a.toString())) : await lastAddrs(parts)
  return { code: encodeInvite({ swarmKey, addrs, extra: encodeSwarmExtra(parts.swarm) }), addrs: addrs.map(a => a.toString()) }
}
