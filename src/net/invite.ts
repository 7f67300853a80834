/**
 * Key codes of releases before single-use invites (versions 1 and 2; `palm join` refuses them, see
 * invite-code.ts); still used by the LAN test harness to hand its raw devices a key and addresses.
 * One line that carries the swarm key and a few addresses of devices already in the
 * swarm, so a new device can join from any subnet. The code IS the swarm key: anyone holding it
 * can join, so pass it only to your own devices.
 *
 *   palm1-<base64url( 0x01 ‖ swarmKey[32] ‖ count(u8) ‖ count × (varint len ‖ multiaddr bytes) ‖ sha256(…)[0..4] )>
 *
 * Version 2 appends `varint len ‖ extra` before the checksum: opaque bytes for the layer above (the
 * daemon puts the swarm's shared description there: id, default policy, stripe size), so a joining
 * device learns them without a round trip. Version 1 codes stay valid.
 */
import { createHash } from 'node:crypto'
import type { Multiaddr } from '@multiformats/multiaddr'
import { InvalidArgumentError } from '../errors.js'
import { SWARM_KEY_BYTES } from '../util/swarm-salt.js'
import { decodeVarint, encodeVarint } from './protocols/frames.js'
import { decodeAddrs } from './invite-code.js'

const PREFIX = 'palm1-'
const VERSION = 1
const VERSION_WITH_EXTRA = 2
/** Largest `extra` carried, bytes (keeps the code one line). */
export const MAX_INVITE_EXTRA_BYTES = 512
const CHECKSUM_BYTES = 4
/** At most this many addresses go into one code (keeps it one pasteable line). */
export const MAX_INVITE_ADDRS = 8

export interface Invite {
  swarmKey: Uint8Array
  /** Addresses of swarm devices, each normally ending in /p2p/<id>. */
  addrs: Multiaddr[]
  /** Opaque bytes for the layer above (at most MAX_INVITE_EXTRA_BYTES). */
  extra?: Uint8Array
}

function checksum (body: Uint8Array): Uint8Array {
  return createHash('sha256').update(body).digest().subarray(0, CHECKSUM_BYTES)
}

export function encodeInvite (invite: Invite): string {
  if (invite.swarmKey.byteLength !== SWARM_KEY_BYTES) throw new InvalidArgumentError(`a swarm key is ${SWARM_KEY_BYTES} bytes, got ${invite.swarmKey.byteLength}`)
  const addrs = invite.addrs.slice(0, MAX_INVITE_ADDRS)
  const extra = invite.extra
  if (extra != null && extra.byteLength > MAX_INVITE_EXTRA_BYTES) throw new InvalidArgumentError(`invite extra data is ${extra.byteLength} bytes, at most ${MAX_INVITE_EXTRA_BYTES}`)
  const parts: Uint8Array[] = [Uint8Array.of(extra == null ? VERSION : VERSION_WITH_EXTRA), invite.swarmKey, Uint8Array.of(addrs.length)]
  for (const a of addrs) parts.push(encodeVarint(a.bytes.byteLength), a.bytes)
  if (extra != null) parts.push(encodeVarint(extra.byteLength), extra)
  const body = Buffer.concat(parts)
  return PREFIX + Buffer.concat([body, checksum(body)]).toString('base64url')
}

/** Reads a varint at `pos`; returns [value, next position]. Throws on truncation. */
export function decodeInvite (code: string): Invite {
  const bad = (why: string, cause?: unknown): Error => new InvalidArgumentError(`this is not a valid PALM invite code (${why}); copy the whole line printed by \`palm invite\``, { cause })
  const text = code.trim()
  if (!text.startsWith(PREFIX)) throw bad(`it must start with "${PREFIX}"`)
  const raw = Buffer.from(text.slice(PREFIX.length), 'base64url')
  if (raw.byteLength < 1 + SWARM_KEY_BYTES + 1 + CHECKSUM_BYTES) throw bad('it is too short')
  const body = raw.subarray(0, raw.byteLength - CHECKSUM_BYTES)
  if (Buffer.compare(checksum(body), raw.subarray(raw.byteLength - CHECKSUM_BYTES)) !== 0) throw bad('its checksum does not match: a character is missing or changed')
  if (body[0] !== VERSION && body[0] !== VERSION_WITH_EXTRA) throw bad(`version ${body[0]} is not supported by this release`)
  const swarmKey = new Uint8Array(body.subarray(1, 1 + SWARM_KEY_BYTES))
  const count = body[1 + SWARM_KEY_BYTES]
  let pos = 2 + SWARM_KEY_BYTES
  let addrs: Multiaddr[]
  try {
    [addrs, pos] = decodeAddrs(body, pos, count)
  } catch (err) {
    throw bad('an address in it is damaged', err)
  }
  let extra: Uint8Array | undefined
  if (body[0] === VERSION_WITH_EXTRA) {
    let len: number
    try {
      [len, pos] = decodeVarint(body, pos)
    } catch (err) {
      throw bad('its extra data is truncated', err)
    }
    if (len > MAX_INVITE_EXTRA_BYTES || pos + len > body.byteLength) throw bad('its extra data is truncated')
    extra = new Uint8Array(body.subarray(pos, pos + len))
    pos += len
  }
  if (pos !== body.byteLength) throw bad('it has trailing bytes')
  return extra == null ? { swarmKey, addrs } : { swarmKey, addrs, extra }
}
