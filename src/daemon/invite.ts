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
import { writeFileAtomic } from './home.js'

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

export async function inviteFor (parts: DaemonParts): Promise<InviteReport> {
  const swarmKey = await loadOrCreateSwarmKey(parts.paths.swarmKey)
  const addrs = parts.net != null ? parts.net.multiaddrs().map(a => multiaddr(a.toString())) : await lastAddrs(parts)
  return { code: encodeInvite({ swarmKey, addrs }), addrs: addrs.map(a => a.toString()) }
}
