/**
 * Admission of the devices this one meets (docs/journal.md, "Admission"). A peer that reached
 * this device over the protected swarm proved it holds the swarm key; this device then signs an
 * `admit` op for the peer's Ed25519 key (its device id embeds it), so its journal ops are accepted
 * here and, through this device's admission, on every device that admitted this one. Admitting a
 * device twice logs nothing. (Invites that stop being the swarm key belong to the trust issue.)
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { MetaStore } from '../meta/index.js'
import type { Membership, PeerState } from '../net/index.js'
import type { Logger } from '../util/logger.js'

/** The raw Ed25519 key a device id embeds, or undefined (another key type, not a device id). */
function keyOf (id: string): Uint8Array | undefined {
  try {
    const key = peerIdFromString(id).publicKey?.raw
    return key?.byteLength === 32 ? key : undefined
  } catch {
    return undefined
  }
}

/**
 * Admits one device met over the protected swarm (a no-op when it is admitted already); false when
 * its id embeds no Ed25519 key, so its ops could never be verified.
 */
export async function admitDevice (meta: Pick<MetaStore, 'admit'>, id: string): Promise<boolean> {
  const key = keyOf(id)
  if (key == null) return false
  await meta.admit(id, key)
  return true
}

/** Admits every online peer now and each peer that comes online; returns the unsubscribe. */
export function admitPeers (meta: MetaStore, membership: Membership, log: Logger): () => void {
  const admit = (id: string): void => {
    admitDevice(meta, id).then(
      (ok) => { if (!ok) log('device %s has no Ed25519 device id: its journal ops cannot be verified, so it is not admitted', id) },
      (err: Error) => { log.error('could not admit device %s to the journal: %s', membership.describe(id), err.message) })
  }
  for (const p of membership.peers()) if (p.online) admit(p.id)
  const onOnline = (e: CustomEvent<PeerState>): void => { admit(e.detail.id) }
  membership.addEventListener('peer:online', onOnline)
  return () => { membership.removeEventListener('peer:online', onOnline) }
}
