/**
 * The invite exchange (docs/network.md, "Invites"): a joining device proves an invite code's secret
 * to the inviting device and gets the swarm key, over the inviting device's swarm port. The swarm
 * protector hands a connection whose first byte is INVITE_MAGIC to `answerInvite` (a device
 * without the swarm key cannot pass the protector's own handshake).
 *
 *   J → I  0x49 ‖ version ‖ id[8] ‖ ephemeral X25519 public key of J [32]
 *   I → J  (the protector's own 33-byte hello, which J skips)
 *   I → J  0 ‖ ephemeral X25519 public key of I [32]      or   refusal
 *   both   th = SHA-256(id ‖ eJ ‖ eI);  kJI ‖ kIJ = HKDF-SHA256(ikm = X25519(eJ, eI) ‖ secret, salt = th)
 *   J → I  u32 len ‖ ChaCha20-Poly1305(kJI, {device id, name, Ed25519 signature of th by the device key})
 *   I → J  0 ‖ u32 len ‖ ChaCha20-Poly1305(kIJ, {swarm key, swarm description, addresses,
 *                                               signature of th by the inviter's device key})   or   refusal
 *
 * A refusal is `reason ‖ u16 len ‖ text`: unknown, used, expired, forged (the secret did not match),
 * failed or removed. The secret never crosses the wire, and each side's ephemeral key makes every
 * exchange's keys fresh: a captured exchange decrypts with neither the code nor the device keys.
 *
 * Key fetch (re-keying, docs/security.md): a member that was offline while the swarm was re-keyed
 * holds an older key and fails every member's handshake; it asks any member for the current key on
 * the same port, proving its device key (a signed ephemeral Diffie-Hellman, no shared secret):
 *
 *   R → M  0x49 ‖ 0x02 ‖ epoch R holds (u64) ‖ ephemeral X25519 public key of R [32]
 *   M → R  (the protector's hello, skipped)   then   0 ‖ ephemeral X25519 public key of M   or refusal
 *   both   th = SHA-256("palm/keyfetch/v1" ‖ epoch ‖ eR ‖ eM);  keys as above with an empty secret
 *   R → M  sealed {device id of R, signature of th by R's device key}
 *   M → R  0 ‖ sealed {epoch, key, extra, device id of M, signature of th by M}   or refusal
 *
 * Each side checks the other's signature over th, which binds both ephemeral keys: a device in the
 * middle can neither read the key nor pass as either side. M hands the key only to devices its
 * key authority lists as members (`keyFor`); R takes it only from a device it does not know removed.
 */
import { createCipheriv, createDecipheriv, createHash, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, type KeyObject } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { getNetConfig } from '@libp2p/utils'
import { PermissionError, ProtocolError, TimeoutError } from '../errors.js'
import { INVITE_ID_BYTES, type InviteCode } from './invite-code.js'
import { SWARM_HANDSHAKE_VERSION } from './constants.js'
import { printable } from '../util/printable.js'
import type { PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** First byte of an invite exchange (the protector's own hello starts with its version, SWARM_HANDSHAKE_VERSION). */
export const INVITE_MAGIC = 0x49
const EXCHANGE_VERSION = 1
const PUB_BYTES = 32
/** Bytes of the joiner's first message. */
export const INVITE_HELLO_BYTES = 2 + INVITE_ID_BYTES + PUB_BYTES
const PROTECTOR_HELLO_BYTES = 33
const TAG_BYTES = 16
const MAX_SEALED_BYTES = 65_536
const KEY_INFO = 'palm/invite/v1/keys'
const JOIN_LABEL = 'palm/invite/v1/join'
const GRANT_LABEL = 'palm/invite/v1/grant'
/** The whole exchange must finish within this, ms (each side). */
export const INVITE_EXCHANGE_TIMEOUT_MS = 10_000

/** Why an inviting device refused a code. */
export type InviteRefusal = 'unknown' | 'used' | 'expired' | 'forged' | 'failed' | 'removed'
const REFUSALS: InviteRefusal[] = ['unknown', 'used', 'expired', 'forged', 'failed', 'removed']
/** Second byte of a key fetch (an invite's is its exchange version, 1). */
const KEY_FETCH_KIND = 2
const FETCH_LABEL = 'palm/keyfetch/v1'
const ASK_LABEL = 'palm/keyfetch/v1/ask'
const GIVE_LABEL = 'palm/keyfetch/v1/give'

/** What the joining device gets. */
export interface InviteGrant {
  swarmKey: Uint8Array
  /** Opaque bytes for the layer above (the daemon puts the swarm description there). */
  extra: Uint8Array
  /** Addresses of the inviting device. */
  addrs: string[]
  /** The inviting device's id, when the code's address named it (its signature over the grant was checked). */
  inviter?: string
}

export type Refused = { refused: InviteRefusal, detail: string }

/** The inviting device's side: its invites and its journal (the daemon implements it). */
export interface InviteAuthority {
  /** The secret of a usable invite, or why it is not usable. */
  lookup: (id: Uint8Array) => Promise<{ secret: Uint8Array } | Refused>
  /**
   * Marks the invite used by `device` (atomically: one redemption only), admits the device with a
   * signed op and returns what it gets.
   */
  redeem: (id: Uint8Array, device: { id: string, name: string }) => Promise<{ grant: InviteGrant } | Refused>
  /**
   * The current swarm key for `device` (which proved its device key and holds the key of
   * `heldEpoch`), or why it gets none. Absent: key fetches are refused.
   */
  keyFor?: (device: string, heldEpoch: number) => Promise<{ grant: KeyGrant } | Refused>
}

/** What a key fetch hands out. */
export interface KeyGrant {
  epoch: number
  swarmKey: Uint8Array
  /** Opaque bytes for the layer above (the daemon's record of the epoch). */
  extra: Uint8Array
}

/** A fetched key, and the device that gave it (its signature checked). */
export interface FetchedKey extends KeyGrant {
  from: string
}

/** Reads exactly n bytes; the same shape over a libp2p raw connection and a node socket. */
export interface ExchangeChannel {
  read: (n: number, signal: AbortSignal) => Promise<Uint8Array>
  send: (bytes: Uint8Array) => void
}

interface Ephemeral { privateKey: KeyObject, pub: Uint8Array }

function ephemeral (): Ephemeral {
  const { privateKey, publicKey } = generateKeyPairSync('x25519')
  return { privateKey, pub: new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url')) }
}

function sessionKeys (own: Ephemeral, remotePub: Uint8Array, secret: Uint8Array, th: Uint8Array): { jToI: Uint8Array, iToJ: Uint8Array } {
  const remote = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(remotePub).toString('base64url') }, format: 'jwk' })
  const shared = diffieHellman({ privateKey: own.privateKey, publicKey: remote })
  if (shared.every(b => b === 0)) throw new ProtocolError('the other device sent a degenerate X25519 key; refusing the invite exchange')
  const okm = new Uint8Array(hkdfSync('sha256', Buffer.concat([shared, secret]), th, KEY_INFO, 64))
  return { jToI: okm.subarray(0, 32), iToJ: okm.subarray(32) }
}

function transcript (id: Uint8Array, joinerPub: Uint8Array, inviterPub: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(id).update(joinerPub).update(inviterPub).digest())
}

const NONCE = new Uint8Array(12) // each key seals exactly one message

function seal (key: Uint8Array, th: Uint8Array, value: unknown): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, NONCE, { authTagLength: TAG_BYTES })
  c.setAAD(th, { plaintextLength: 0 })
  const body = Buffer.concat([c.update(JSON.stringify(value)), c.final(), c.getAuthTag()])
  const len = Buffer.alloc(4)
  len.writeUInt32BE(body.byteLength)
  return Buffer.concat([len, body])
}

/** The sealed value, or undefined when it does not open under `key` (wrong secret, tampering). */
async function open (ch: ExchangeChannel, key: Uint8Array, th: Uint8Array, signal: AbortSignal): Promise<any> {
  const len = Buffer.from(await ch.read(4, signal)).readUInt32BE()
  if (len < TAG_BYTES || len > MAX_SEALED_BYTES) throw new ProtocolError(`invite exchange message of ${len} bytes is out of range`)
  const body = await ch.read(len, signal)
  try {
    const d = createDecipheriv('chacha20-poly1305', key, NONCE, { authTagLength: TAG_BYTES })
    d.setAAD(th, { plaintextLength: 0 })
    d.setAuthTag(body.subarray(len - TAG_BYTES))
    return JSON.parse(Buffer.concat([d.update(body.subarray(0, len - TAG_BYTES)), d.final()]).toString('utf8'))
  } catch {
    return undefined
  }
}

function refusal (r: Refused): Uint8Array {
  const text = Buffer.from(r.detail.slice(0, 300), 'utf8')
  const len = Buffer.alloc(2)
  len.writeUInt16BE(text.byteLength)
  return Buffer.concat([Uint8Array.of(REFUSALS.indexOf(r.refused) + 1), len, text])
}

async function verdict (ch: ExchangeChannel, signal: AbortSignal): Promise<Refused | undefined> {
  const b = (await ch.read(1, signal))[0]
  if (b === 0) return undefined
  const len = Buffer.from(await ch.read(2, signal)).readUInt16BE()
  // Shown to the user: the other device must not be able to send terminal escapes.
  const detail = printable(Buffer.from(await ch.read(len, signal)).toString('utf8'), 300)
  return { refused: REFUSALS[b - 1] ?? 'failed', detail }
}

async function verifies (deviceId: string, data: Uint8Array, sig: unknown): Promise<boolean> {
  try {
    const key = peerIdFromString(deviceId).publicKey
    return key != null && typeof sig === 'string' && await key.verify(data, Buffer.from(sig, 'base64'))
  } catch {
    return false
  }
}

const labelled = (label: string, th: Uint8Array): Uint8Array => Buffer.concat([Buffer.from(label), th])

/**
 * The inviting device's side, run by the protector on a connection whose first byte was
 * INVITE_MAGIC (`hello` is the joiner's whole first message). Returns the joined device's id, or
 * the refusal it sent.
 */
export async function answerInvite (ch: ExchangeChannel, hello: Uint8Array, authority: InviteAuthority, inviterKey: PrivateKey, signal: AbortSignal): Promise<{ device: string } | Refused> {
  if (hello[1] === KEY_FETCH_KIND) return await answerKeyFetch(ch, hello, authority, inviterKey, signal)
  if (hello[1] !== EXCHANGE_VERSION) {
    const r: Refused = { refused: 'failed', detail: `invite exchange version ${hello[1]} is not supported; update PALM on the joining device` }
    ch.send(refusal(r))
    return r
  }
  const id = hello.subarray(2, 2 + INVITE_ID_BYTES)
  const joinerPub = hello.subarray(2 + INVITE_ID_BYTES)
  const found = await authority.lookup(id).catch((err: Error): Refused => ({ refused: 'failed', detail: `it could not read its invites: ${err.message}` }))
  if ('refused' in found) { ch.send(refusal(found)); return found }
  const own = ephemeral()
  const th = transcript(id, joinerPub, own.pub)
  const keys = sessionKeys(own, joinerPub, found.secret, th)
  ch.send(Buffer.concat([Uint8Array.of(0), own.pub]))
  const req = await open(ch, keys.jToI, th, signal)
  if (req == null) {
    const r: Refused = { refused: 'forged', detail: 'its secret does not match the invite this device made (a forged or mistyped code)' }
    ch.send(refusal(r))
    return r
  }
  const device = typeof req.device === 'string' ? req.device : ''
  if (!await verifies(device, labelled(JOIN_LABEL, th), req.sig)) {
    const r: Refused = { refused: 'failed', detail: 'the joining device did not prove its device key' }
    ch.send(refusal(r))
    return r
  }
  const name = typeof req.name === 'string' ? req.name.slice(0, 200) : ''
  let redeemed: Awaited<ReturnType<InviteAuthority['redeem']>>
  try {
    redeemed = await authority.redeem(id, { id: device, name })
  } catch (err) {
    redeemed = { refused: 'failed', detail: `it could not admit the device: ${(err as Error).message}` }
  }
  if ('refused' in redeemed) { ch.send(refusal(redeemed)); return redeemed }
  const g = redeemed.grant
  const sig = await inviterKey.sign(labelled(GRANT_LABEL, th))
  ch.send(Buffer.concat([Uint8Array.of(0), seal(keys.iToJ, th, {
    swarmKey: Buffer.from(g.swarmKey).toString('base64'),
    extra: Buffer.from(g.extra).toString('base64'),
    addrs: g.addrs,
    sig: Buffer.from(sig).toString('base64')
  })]))
  return { device }
}

function fetchTranscript (epochField: Uint8Array, requesterPub: Uint8Array, memberPub: Uint8Array): Uint8Array {
  return transcript(Buffer.concat([Buffer.from(FETCH_LABEL), epochField]), requesterPub, memberPub)
}

function epochField (epoch: number): Uint8Array {
  const b = Buffer.alloc(INVITE_ID_BYTES)
  b.writeBigUInt64BE(BigInt(epoch))
  return b
}

const NO_SECRET = new Uint8Array(0)

/** The member's side of a key fetch (`hello[1]` is KEY_FETCH_KIND). */
async function answerKeyFetch (ch: ExchangeChannel, hello: Uint8Array, authority: InviteAuthority, memberKey: PrivateKey, signal: AbortSignal): Promise<{ device: string } | Refused> {
  const refuse = (r: Refused): Refused => { ch.send(refusal(r)); return r }
  if (authority.keyFor == null) return refuse({ refused: 'failed', detail: 'this device hands out no swarm keys' })
  const field = hello.subarray(2, 2 + INVITE_ID_BYTES)
  const heldEpoch = Number(Buffer.from(field).readBigUInt64BE())
  const requesterPub = hello.subarray(2 + INVITE_ID_BYTES)
  const own = ephemeral()
  const th = fetchTranscript(field, requesterPub, own.pub)
  const keys = sessionKeys(own, requesterPub, NO_SECRET, th)
  ch.send(Buffer.concat([Uint8Array.of(0), own.pub]))
  const req = await open(ch, keys.jToI, th, signal)
  const device = typeof req?.device === 'string' ? req.device : ''
  if (req == null || !await verifies(device, labelled(ASK_LABEL, th), req.sig)) {
    return refuse({ refused: 'forged', detail: 'the asking device did not prove its device key' })
  }
  let answer: Awaited<ReturnType<NonNullable<InviteAuthority['keyFor']>>>
  try {
    answer = await authority.keyFor(device, heldEpoch)
  } catch (err) {
    answer = { refused: 'failed', detail: `it could not read its swarm keys: ${(err as Error).message}` }
  }
  if ('refused' in answer) return refuse(answer)
  const g = answer.grant
  const sig = await memberKey.sign(labelled(GIVE_LABEL, th))
  ch.send(Buffer.concat([Uint8Array.of(0), seal(keys.iToJ, th, {
    epoch: g.epoch,
    swarmKey: Buffer.from(g.swarmKey).toString('base64'),
    extra: Buffer.from(g.extra).toString('base64'),
    device: peerIdFromPrivateKey(memberKey).toString(),
    sig: Buffer.from(sig).toString('base64')
  })]))
  return { device }
}

/**
 * The asking side of a key fetch: asks the device at `addr` (a TCP multiaddr) for the current swarm
 * key, proving `deviceKey`. A refusal is a PermissionError (`details.refusal`); the caller decides
 * whether to trust `from` (not removed) and whether the key is newer than its own.
 */
export async function fetchSwarmKey (addr: Multiaddr, deviceKey: PrivateKey, heldEpoch: number, options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<FetchedKey> {
  const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs ?? INVITE_EXCHANGE_TIMEOUT_MS), ...(options.signal != null ? [options.signal] : [])])
  const socket = await dialTcp(addr, signal)
  const ch = socketChannel(socket)
  const who = `the device at ${addr.toString()}`
  try {
    const own = ephemeral()
    const field = epochField(heldEpoch)
    ch.send(Buffer.concat([Uint8Array.of(INVITE_MAGIC, KEY_FETCH_KIND), field, own.pub]))
    const protectorHello = await ch.read(PROTECTOR_HELLO_BYTES, signal)
    if (protectorHello[0] !== SWARM_HANDSHAKE_VERSION) throw new ProtocolError(`${who} is not a PALM device of this release (handshake version ${protectorHello[0]})`)
    const first = await verdict(ch, signal)
    if (first != null) throw keyRefusedError(first, who)
    const memberPub = await ch.read(PUB_BYTES, signal)
    const th = fetchTranscript(field, own.pub, memberPub)
    const keys = sessionKeys(own, memberPub, NO_SECRET, th)
    const sig = await deviceKey.sign(labelled(ASK_LABEL, th))
    ch.send(seal(keys.jToI, th, { device: peerIdFromPrivateKey(deviceKey).toString(), sig: Buffer.from(sig).toString('base64') }))
    const second = await verdict(ch, signal)
    if (second != null) throw keyRefusedError(second, who)
    const g = await open(ch, keys.iToJ, th, signal)
    if (g == null || !Number.isSafeInteger(g.epoch) || g.epoch < 0 || typeof g.swarmKey !== 'string' || typeof g.extra !== 'string' || typeof g.device !== 'string') {
      throw new ProtocolError(`${who} answered the key fetch with a message that does not open or parse`)
    }
    if (!await verifies(g.device, labelled(GIVE_LABEL, th), g.sig)) {
      throw new PermissionError(`${who} did not prove it is device ${printable(g.device, 80)} (its signature does not match); ignoring its key`)
    }
    const key = new Uint8Array(Buffer.from(g.swarmKey, 'base64'))
    if (key.byteLength !== 32) throw new ProtocolError(`${who} sent a swarm key of ${key.byteLength} bytes`)
    return { from: g.device, epoch: g.epoch, swarmKey: key, extra: new Uint8Array(Buffer.from(g.extra, 'base64')) }
  } finally {
    ch.end()
  }
}

function keyRefusedError (r: Refused, who: string): Error {
  return new PermissionError(`${who} refused to hand out the swarm key (${r.refused}): ${r.detail}`, { details: { refusal: r.refused } })
}

/** A refused code: `details.refusal` says which (unknown, used, expired, forged, failed). */
function refusedError (r: Refused, inviter: string): Error {
  const what = r.refused === 'unknown' ? 'is not one that device made (forged, or from another swarm)' : r.refused === 'used' ? 'was already used' : r.refused === 'expired' ? 'has expired' : r.refused === 'forged' ? 'is forged' : 'could not be redeemed'
  return new PermissionError(`the invite code ${what}: ${inviter} says ${r.detail}; ask for a new code with \`palm invite\``, { details: { refusal: r.refused } })
}

function socketChannel (socket: Socket): ExchangeChannel & { end: () => void } {
  let buffer = Buffer.alloc(0)
  let wake: (() => void) | undefined
  let closed: Error | undefined
  socket.on('data', (d: Buffer) => { buffer = Buffer.concat([buffer, d]); wake?.() })
  socket.on('close', () => { closed ??= new ProtocolError('the inviting device closed the connection during the invite exchange'); wake?.() })
  socket.on('error', (err) => { closed = err; wake?.() })
  return {
    read: async (n, signal) => {
      while (buffer.byteLength < n) {
        if (signal.aborted) throw new TimeoutError('the invite exchange took too long')
        if (closed != null) throw closed
        await new Promise<void>((resolve) => {
          const done = (): void => { signal.removeEventListener('abort', done); wake = undefined; resolve() }
          wake = done
          signal.addEventListener('abort', done, { once: true })
        })
      }
      const out = new Uint8Array(buffer.subarray(0, n))
      buffer = buffer.subarray(n)
      return out
    },
    send: (bytes) => { socket.write(bytes) },
    end: () => { socket.destroy() }
  }
}

async function dialTcp (addr: Multiaddr, signal: AbortSignal): Promise<Socket> {
  const o = getNetConfig(addr)
  return await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: o.host, port: o.port ?? 0, signal })
    s.once('connect', () => { s.removeAllListeners('error'); resolve(s) })
    s.once('error', reject)
  })
}

/** The device id an address names (/p2p/<id>), if any. */
function peerOf (addr: Multiaddr): string | undefined {
  return addr.getComponents().find(c => c.name === 'p2p')?.value
}

async function redeemAt (addr: Multiaddr, code: InviteCode, device: { key: PrivateKey, name: string }, signal: AbortSignal): Promise<InviteGrant> {
  const socket = await dialTcp(addr, signal)
  const ch = socketChannel(socket)
  const inviter = peerOf(addr)
  const who = inviter != null ? `device ${inviter}` : `the device at ${addr.toString()}`
  try {
    const own = ephemeral()
    ch.send(Buffer.concat([Uint8Array.of(INVITE_MAGIC, EXCHANGE_VERSION), code.id, own.pub]))
    const protectorHello = await ch.read(PROTECTOR_HELLO_BYTES, signal)
    if (protectorHello[0] !== SWARM_HANDSHAKE_VERSION) throw new ProtocolError(`${who} is not a PALM device of this release (handshake version ${protectorHello[0]})`)
    const first = await verdict(ch, signal)
    if (first != null) throw refusedError(first, who)
    const inviterPub = await ch.read(PUB_BYTES, signal)
    const th = transcript(code.id, own.pub, inviterPub)
    const keys = sessionKeys(own, inviterPub, code.secret, th)
    const sig = await device.key.sign(labelled(JOIN_LABEL, th))
    ch.send(seal(keys.jToI, th, { device: peerIdFromPrivateKey(device.key).toString(), name: device.name, sig: Buffer.from(sig).toString('base64') }))
    const second = await verdict(ch, signal)
    if (second != null) throw refusedError(second, who)
    const g = await open(ch, keys.iToJ, th, signal)
    if (g == null || typeof g.swarmKey !== 'string' || typeof g.extra !== 'string' || !Array.isArray(g.addrs)) {
      throw new ProtocolError(`${who} answered the invite with a message that does not open under the code's secret; ask for a new code`)
    }
    if (inviter != null && !await verifies(inviter, labelled(GRANT_LABEL, th), g.sig)) {
      throw new PermissionError(`the device at ${addr.toString()} is not ${inviter}, the device that made the invite (its signature does not match); ask for a new code`)
    }
    return { swarmKey: new Uint8Array(Buffer.from(g.swarmKey, 'base64')), extra: new Uint8Array(Buffer.from(g.extra, 'base64')), addrs: g.addrs.filter((a: unknown): a is string => typeof a === 'string'), ...(inviter != null ? { inviter } : {}) }
  } finally {
    ch.end()
  }
}

/**
 * The joining device's side: tries the code's addresses in turn until one answers. A refusal
 * (PermissionError, `details.refusal`) ends the attempt; an unreachable address moves to the next.
 */
export async function redeemInvite (code: InviteCode, device: { key: PrivateKey, name: string }, options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<InviteGrant> {
  const tcp = code.addrs.filter(a => a.getComponents().some(c => c.name === 'tcp'))
  const failures: string[] = []
  for (const addr of tcp) {
    const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs ?? INVITE_EXCHANGE_TIMEOUT_MS), ...(options.signal != null ? [options.signal] : [])])
    try {
      return await redeemAt(addr, code, device, signal)
    } catch (err) {
      if (err instanceof PermissionError || options.signal?.aborted === true) throw err
      failures.push(`${addr.toString()}: ${(err as Error).message}`)
    }
  }
  const tried = failures.length > 0 ? failures.join('; ') : 'the code names no TCP address'
  throw new ProtocolError(`could not reach the device that made this invite (${tried}); it must be running (\`palm serve\` or \`palm mount\`) until the code is used`)
}
