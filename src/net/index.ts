/**
 * @packageDocumentation
 * The network layer: a libp2p 3 node (TCP, swarm-key protector, noise, yamux, identify, ping) that
 * finds the swarm's devices (mDNS with a PALM service tag, a LAN-only Kademlia DHT, invite
 * addresses, a peers file kept across restarts), keeps a membership view fed by health pushes,
 * moves fragments with `/palm/fragment/1.0.0` and replicates the journal with `/palm/journal/1.0.0`
 * (through the JournalReplica seam the daemon fills: net never parses an op).
 *
 * Invariants:
 * - No swarm key, no connection: the protector refuses a device without the key before noise,
 *   so only swarm devices reach any protocol; a joining device only reaches the invite exchange,
 *   and a removed device (`isRemoved`) is refused once noise names it.
 * - A peer's fragment DELETE is carried out only when `mayDelete` clears it (never by default).
 * - Every fragment received is hash-checked against its CID before it is stored or returned.
 * - Malformed, oversized or unexpected frames reset their stream, are logged and counted
 *   (`stats()`), and never crash the process.
 * - Memory is bounded: one frame per stream, `maxInboundStreams` streams per connection, and the
 *   frame budget over all streams and connections (per peer and in total).
 * - `net` knows nothing of files: it imports only store/types, errors and util.
 *
 * Entry points must import `src/util/polyfill.js` before this module (libp2p 3 on Node 20).
 */
import { PalmNodeImpl } from './palm-node.js'
import { JournalSyncImpl, type JournalSyncComponents } from './journal-sync.js'
import type { JournalSync, JournalSyncInit } from './journal-types.js'
import type { PalmNode, PalmNodeComponents, PalmNodeInit } from './types.js'

export * from './types.js'
export * from './journal-types.js'
export type { JournalSyncComponents } from './journal-sync.js'
export { FRAGMENT_PROTOCOL, HEALTH_PROTOCOL, JOURNAL_PROTOCOL, JOURNAL_SEAL_SPACING_OPS, DHT_PROTOCOL, DEFAULT_SERVICE_TAG } from './constants.js'
export { savePeerKey, loadOrCreatePeerKey, loadOrCreateSwarmKey, saveSwarmKey, generateSwarmKey, formatSwarmKey, parseSwarmKey } from './keys.js'
export { encodeInvite, decodeInvite, MAX_INVITE_ADDRS, type Invite } from './invite.js'
export { encodeInviteCode, decodeInviteCode, INVITE_ID_BYTES, INVITE_SECRET_BYTES, type InviteCode } from './invite-code.js'
export { redeemInvite, fetchSwarmKey, type InviteAuthority, type InviteGrant, type InviteRefusal, type Refused, type KeyGrant, type FetchedKey } from './invite-exchange.js'
export { swarmProtector, noisePrologue, type SwarmProtectorInit } from './protector.js'
export { defaultAnnounceFilter, palmEncrypter, palmMuxer } from './libp2p-config.js'
export { deriveSwarmSalt } from '../util/swarm-salt.js'

/** Builds a PALM network node (no I/O until `start()`). InvalidConfigError when the settings are wrong. */
export function createPalmNode (init: PalmNodeInit, components: PalmNodeComponents): PalmNode {
  return new PalmNodeImpl(init, components)
}

/** Builds journal replication on a started or starting node (no I/O until `start()`). */
export function createJournalSync (init: JournalSyncInit, components: JournalSyncComponents): JournalSync {
  return new JournalSyncImpl(init, components)
}
