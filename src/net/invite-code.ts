/**
 * Invite codes (version 3): one line that names an invite a device made, the secret that proves it
 * and where that device listens. The code does not carry the swarm key: the joining device proves
 * the secret to the inviting device over an encrypted exchange (invite-exchange.ts), which then
 * admits it and hands it the key. The inviting device alone decides whether the code is still
 * valid (unused, not expired); the expiry in the code is only shown to the user.
 *
 *   palm1-<base64url( 0x03 ‖ id[8] ‖ secret[16] ‖ expiresAt(u32 BE, Unix s) ‖ count(u8)
 *                     ‖ count × (varint len ‖ multiaddr bytes) ‖ sha256(…)[0..4] )>
 *
 * Versions 1 and 2 carried the swarm key itself; they are refused with a message that says so.
 */
import { createHash } from 'node:crypto'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { InvalidArgumentError } from '../errors.js'
import { decodeVarint, encodeVarint } from './protocols/frames.js'

const PREFIX = 'palm1-'
const VERSION = 3
const CHECKSUM_BYTES = 4
export const INVITE_ID_BYTES = 8
export const INVITE_SECRET_BYTES = 16
/** At most this many addresses go into one code (keeps it one pasteable line). */
export const MAX_INVITE_CODE_ADDRS = 8

export interface InviteCode {
  /** Names the invite at the inviting device (sent in the clear). */
  id: Uint8Array
  /** 128 random bits, never sent: both sides mix them into the exchange's keys. */
  secret: Uint8Array
  /** When the inviting device stops accepting it, Unix ms (whole seconds). */
  expiresAtMs: number
  /** Addresses of the inviting device, each normally ending in /p2p/<its id>. */
  addrs: Multiaddr[]
}

function checksum (body: Uint8Array): Uint8Array {
  return createHash('sha256').update(body).digest().subarray(0, CHECKSUM_BYTES)
}

export function encodeInviteCode (code: InviteCode): string {
  if (code.id.byteLength !== INVITE_ID_BYTES || code.secret.byteLength !== INVITE_SECRET_BYTES) {
    throw new InvalidArgumentError(`an invite needs a ${INVITE_ID_BYTES}-byte id and a ${INVITE_SECRET_BYTES}-byte secret`)
  }
  const addrs = code.addrs.slice(0, MAX_INVITE_CODE_ADDRS)
  const expires = Buffer.alloc(4)
  expires.writeUInt32BE(Math.floor(code.expiresAtMs / 1000))
  const parts: Uint8Array[] = [Uint8Array.of(VERSION), code.id, code.secret, expires, Uint8Array.of(addrs.length)]
  for (const a of addrs) parts.push(encodeVarint(a.bytes.byteLength), a.bytes)
  const body = Buffer.concat(parts)
  return PREFIX + Buffer.concat([body, checksum(body)]).toString('base64url')
}

/** `count` addresses (varint length ‖ multiaddr bytes each) at `pos`: [addresses, position after]. */
export function decodeAddrs (body: Uint8Array, pos: number, count: number): [Multiaddr[], number] {
  const addrs: Multiaddr[] = []
  for (let i = 0; i < count; i++) {
    let len: number
    [len, pos] = decodeVarint(body, pos)
    if (pos + len > body.byteLength) throw new Error('truncated address')
    addrs.push(multiaddr(body.subarray(pos, pos + len)))
    pos += len
  }
  return [addrs, pos]
}

export function decodeInviteCode (text: string): InviteCode {
  const bad = (why: string, cause?: unknown): Error => new InvalidArgumentError(`this is not a valid PALM invite code (${why}); copy the whole line printed by \`palm invite\``, { cause })
  const trimmed = text.trim()
  if (!trimmed.startsWith(PREFIX)) throw bad(`it must start with "${PREFIX}"`)
  const raw = Buffer.from(trimmed.slice(PREFIX.length), 'base64url')
  if (raw.byteLength < 1 + CHECKSUM_BYTES) throw bad('it is too short')
  const body = raw.subarray(0, raw.byteLength - CHECKSUM_BYTES)
  if (Buffer.compare(checksum(body), raw.subarray(raw.byteLength - CHECKSUM_BYTES)) !== 0) throw bad('its checksum does not match: a character is missing or changed')
  if (body[0] === 1 || body[0] === 2) {
    throw new InvalidArgumentError('this is an invite code of an older PALM release, which carried the swarm key and is no longer accepted; make a new code with `palm invite` on a device of the swarm')
  }
  if (body[0] !== VERSION) throw bad(`version ${body[0]} is not supported by this release`)
  let pos = 1
  const take = (n: number): Uint8Array => {
    if (pos + n > body.byteLength) throw bad('it is too short')
    const out = new Uint8Array(body.subarray(pos, pos + n))
    pos += n
    return out
  }
  const id = take(INVITE_ID_BYTES)
  const secret = take(INVITE_SECRET_BYTES)
  const expiresAtMs = Buffer.from(take(4)).readUInt32BE() * 1000
  const count = take(1)[0]
  let addrs: Multiaddr[]
  try {
    [addrs, pos] = decodeAddrs(body, pos, count)
  } catch (err) {
    throw bad('an address in it is damaged', err)
  }
  if (pos !== body.byteLength) throw bad('it has trailing bytes')
  return { id, secret, expiresAtMs, addrs }
}
