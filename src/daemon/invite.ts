/**
 * `palm invite`: a one-line, single-use code that expires (docs/network.md, "Invites"): an invite
 * id, a 128-bit secret and this device's current addresses, never the swarm key. When no daemon
 * runs, the addresses the daemon last listened on (run/addrs.json) are used; the code works once
 * the daemon runs. `inviteAuthority` is this device's side of the exchange: it checks the invite,
 * admits the joining device with a signed op and hands it the swarm key.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { encodeInviteCode, loadOrCreateSwarmKey, type InviteAuthority, type PalmNode } from '../net/index.js'
import type { MetaStore } from '../meta/index.js'
import type { DaemonParts } from './daemon.js'
import type { InviteReport } from './control-api.js'
import { writeFileAtomic, type HomePaths, type SwarmInfo } from './home.js'
import { InvalidArgumentError } from '../errors.js'
import { InviteBook } from './invite-book.js'
import { admitDevice } from './admission.js'
import { printable } from '../util/printable.js'
import { decodeRecord, encodeRecord, type KeyRecord } from './key-ring.js'
import type { KeyRotation } from './key-rotation.js'

/** How long a code works unless `--ttl` says otherwise, ms. */
export const DEFAULT_INVITE_TTL_MS = 3_600_000
/** Longest `--ttl`, ms (a week). */
export const MAX_INVITE_TTL_MS = 7 * 24 * 3_600_000

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
  /** The current network key and its record, when the swarm was re-keyed (the grant's key is swarm.key, the salt's source). */
  keys?: KeyRecord
  /** The inviting device's journal clock when it admitted the joiner (ns): the joiner's ops come after it. */
  clock?: bigint
}

/** The swarm description as the invite's extra bytes (compact JSON). */
export function encodeSwarmExtra (swarm: SwarmInfo, keys?: KeyRecord, clock?: bigint): Uint8Array {
  const shared = {
    id: swarm.id, k: swarm.policy.k, n: swarm.policy.n, s: swarm.stripeSizeBytes,
    ...(keys != null && keys.epoch > 0 ? { r: Buffer.from(encodeRecord(keys)).toString('base64') } : {}),
    ...(clock != null ? { h: clock.toString() } : {})
  }
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
  const keys = typeof v.r === 'string' ? decodeRecord(Buffer.from(v.r, 'base64'), 'the swarm key record the inviting device sent') : undefined
  if (v.h !== undefined && (typeof v.h !== 'string' || !/^\d{1,30}$/.test(v.h))) throw new InvalidArgumentError('the invite code carries a damaged clock reading; ask for a new code with `palm invite`')
  return { id: v.id, policy: { k: v.k, n: v.n }, stripeSizeBytes: v.s, ...(keys != null ? { keys } : {}), ...(v.h !== undefined ? { clock: BigInt(v.h) } : {}) }
}

export async function inviteFor (parts: DaemonParts, options: { ttlMs?: number } = {}): Promise<InviteReport> {
  const ttlMs = options.ttlMs ?? DEFAULT_INVITE_TTL_MS
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1000 || ttlMs > MAX_INVITE_TTL_MS) {
    throw new InvalidArgumentError(`an invite lives between 1 s and 7 days, not ${ttlMs} ms; give e.g. --ttl 1h`)
  }
  const addrs = parts.net != null ? parts.net.multiaddrs().map(a => multiaddr(a.toString())) : await lastAddrs(parts)
  const made = await new InviteBook(parts.paths.invites).create(ttlMs)
  return {
    code: encodeInviteCode({ ...made, addrs }),
    addrs: addrs.map(a => a.toString()),
    expiresAt: new Date(made.expiresAtMs).toISOString(),
    listening: parts.net != null
  }
}

/**
 * This device's side of invite exchanges: its invite book, its journal, the swarm key (and, with
 * `keys`, the current network key after a re-keying, which members that missed it fetch here).
 */
export function inviteAuthority (paths: HomePaths, swarm: SwarmInfo, meta: Pick<MetaStore, 'admit' | 'clockReading'>, net: () => PalmNode | undefined, keys?: Pick<KeyRotation, 'current' | 'keyFor'>): InviteAuthority {
  const book = new InviteBook(paths.invites)
  return {
    lookup: async (id) => await book.lookup(id),
    redeem: async (id, device) => {
      const joiner = { id: device.id, name: printable(device.name) }
      const refused = await book.claim(id, joiner)
      if (refused != null) return refused
      if (!await admitDevice(meta, device.id)) return { refused: 'failed', detail: `device ${device.id} has no Ed25519 device id, so its journal ops could not be verified` }
      return {
        grant: {
          swarmKey: await loadOrCreateSwarmKey(paths.swarmKey),
          // Read after the admission: the joiner's ops then come after its admit op and after every
          // op this device held, so no device has compacted the point they land at.
          extra: encodeSwarmExtra(swarm, keys?.current(), meta.clockReading()),
          addrs: net()?.multiaddrs().map(a => a.toString()) ?? []
        }
      }
    },
    ...(keys != null ? { keyFor: async (device: string) => await keys.keyFor(device) } : {})
  }
}
