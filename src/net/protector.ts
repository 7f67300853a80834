/**
 * The private-network gate: "no swarm key, no connection". Replaces @libp2p/pnet, which crashes
 * the process on writes above ~640 KiB and halves throughput (see docs/network.md).
 *
 * Handshake, both sides at once, before noise:
 *   1. send `version ‖ nonce` (1 + 32 random bytes), read the peer's;
 *   2. send `tag = HMAC-SHA256(confirmKey, label ‖ role ‖ myNonce ‖ peerNonce)`, read and check the
 *      peer's (constant-time), where role is the sender's: initiator (dialled) or responder. A peer
 *      without the key cannot make the tag: the connection is refused here, before noise, with a
 *      message that says the keys differ. The role stops an outsider from passing the gate by
 *      reflecting a device's own tag back at it on a second connection.
 * Then the bytes pass through unchanged (gated-stream.ts): noise on top is the one cipher. Noise is
 * bound to the swarm key by its prologue (`noisePrologue`, hashed into every handshake message's
 * associated data), so an outsider who got past the gate by relaying a member's tags still cannot
 * finish noise, and a connection never carries a PALM byte to or from anyone without the key.
 *
 * Budgets against outsiders: at most `maxPendingPerHost` inbound handshakes from one IP address
 * run at once (more are closed at once), so idle sockets from one host cannot fill the
 * pending-connection slots; and under pressure (PRESSED_PER_HOST handshakes from the same host
 * running, or `relaxedPending` inbound ones in all) the peer's hello must arrive within `helloTimeoutMs`
 * (1 s). A lone connection keeps the whole handshake timeout for its hello: on a loaded machine a
 * member's hello can sit unread for over a second, and a 1 s limit for everyone refused members.
 *
 * Invites: an inbound connection whose first byte is INVITE_MAGIC is not a swarm device but a
 * joining one; it is handed to the invite exchange (invite-exchange.ts) and then closed, never
 * upgraded.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { InvalidConfigError, PermissionError, ProtocolError } from '../errors.js'
import { combineSignals, abortError } from '../util/abort.js'
import { SWARM_KEY_BYTES } from '../util/swarm-salt.js'
import { GatedStream } from './gated-stream.js'
import { SWARM_HANDSHAKE_VERSION } from './constants.js'
import { INVITE_EXCHANGE_TIMEOUT_MS, INVITE_HELLO_BYTES, INVITE_MAGIC, answerInvite, type InviteAuthority } from './invite-exchange.js'
import { getNetConfig } from '@libp2p/utils'
import type { PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { AbortOptions, ConnectionProtector, MessageStream, StreamMessageEvent, StreamCloseEvent } from '@libp2p/interface'

/** Wire version of the handshake (constants.ts says what changed with each). */
export const PROTECTOR_VERSION = SWARM_HANDSHAKE_VERSION
const NONCE_BYTES = 32
const TAG_BYTES = 32
const HELLO_BYTES = 1 + NONCE_BYTES
const CONFIRM_INFO = 'palm/psk/v2/confirm'
const PROLOGUE_INFO = 'palm/noise/prologue/v2'
const INITIATOR = Uint8Array.of(0x69) // 'i'
const RESPONDER = Uint8Array.of(0x72) // 'r'
/** Handshakes running from one host from which a new one is under pressure (a member makes 1–3 at start). */
const PRESSED_PER_HOST = 4
/** Why a connection that carried an invite exchange is not upgraded (not a failure). */
const INVITE_OVER = 'the connection carried an invite exchange, which is over'

export interface SwarmProtectorInit {
  /** The 32-byte swarm key (required). */
  swarmKey: Uint8Array
  /** The handshake (two messages each way) must finish within this many ms (default 5000). */
  handshakeTimeoutMs?: number
  /** Under pressure, the peer's hello must arrive within this many ms (default 1000). */
  helloTimeoutMs?: number
  /** Inbound handshakes at once (all hosts) from which every new one is under pressure (default 64). */
  relaxedPending?: number
  /** Inbound handshakes from one IP address at once (default 16); more are closed at once. */
  maxPendingPerHost?: number
  /** Called when a remote device fails the key check (for counters). */
  onRefused?: () => void
  /** Answers invite exchanges (none: a connection that starts one is closed). */
  invites?: { authority: InviteAuthority, deviceKey: PrivateKey, onJoined?: (device: string) => void }
}

/** The remote IP of an inbound raw connection, or undefined (outbound, or not an IP transport). */
function inboundHost (raw: MessageStream): string | undefined {
  if (raw.direction !== 'inbound') return undefined
  try {
    const addr = (raw as unknown as { remoteAddr?: Multiaddr }).remoteAddr
    return addr != null ? getNetConfig(addr).host : undefined
  } catch {
    return undefined
  }
}

/** The tag a device in `role` sends: over its own nonce first, then the peer's. */
function confirmTag (confirmKey: Uint8Array, role: Uint8Array, senderNonce: Uint8Array, receiverNonce: Uint8Array): Uint8Array {
  return createHmac('sha256', confirmKey).update(CONFIRM_INFO).update(role).update(senderNonce).update(receiverNonce).digest()
}

/**
 * The noise prologue of a swarm: HKDF-SHA256(swarm key, info "palm/noise/prologue/v2"), 32 bytes.
 * Both sides of a noise handshake must hash the same prologue, so without the swarm key the second
 * or third handshake message fails its AEAD check and no connection is made.
 */
export function noisePrologue (swarmKey: Uint8Array): Uint8Array {
  if (swarmKey?.byteLength !== SWARM_KEY_BYTES) {
    throw new InvalidConfigError(`the swarm key must be ${SWARM_KEY_BYTES} bytes; load it with loadOrCreateSwarmKey or from an invite code`)
  }
  return new Uint8Array(hkdfSync('sha256', swarmKey, new Uint8Array(0), PROLOGUE_INFO, 32))
}

/**
 * Reads exactly `n` bytes from the raw connection. Extra bytes stay in `buffer` for the next read
 * (and, after the handshake, for the protected stream).
 */
class HandshakeReader {
  readonly buffer = new Uint8ArrayList()
  #wake?: () => void
  #closed?: Error
  readonly #raw: MessageStream
  readonly #onMessage = (evt: StreamMessageEvent): void => { this.buffer.append(evt.data); this.#wake?.() }
  readonly #onClose = (evt: StreamCloseEvent): void => {
    this.#closed = evt.error ?? new ProtocolError('the connection closed during the swarm-key handshake')
    this.#wake?.()
  }

  constructor (raw: MessageStream) {
    this.#raw = raw
    raw.addEventListener('message', this.#onMessage)
    raw.addEventListener('close', this.#onClose)
  }

  async read (n: number, signal: AbortSignal): Promise<Uint8Array> {
    while (this.buffer.byteLength < n) {
      if (this.#closed != null) throw this.#closed
      if (signal.aborted) throw abortError(signal, 'swarm-key handshake')
      await new Promise<void>((resolve) => {
        const done = (): void => { signal.removeEventListener('abort', done); this.#wake = undefined; resolve() }
        this.#wake = done
        signal.addEventListener('abort', done, { once: true })
      })
    }
    const out = this.buffer.subarray(0, n)
    this.buffer.consume(n)
    return out
  }

  detach (): void {
    this.#raw.removeEventListener('message', this.#onMessage)
    this.#raw.removeEventListener('close', this.#onClose)
  }
}

export class SwarmProtector implements ConnectionProtector {
  readonly #confirmKey: Uint8Array
  readonly #timeoutMs: number
  readonly #helloTimeoutMs: number
  readonly #maxPendingPerHost: number
  readonly #pending = new Map<string, number>()
  readonly #relaxedPending: number
  #pendingTotal = 0
  readonly #onRefused?: () => void
  readonly #invites?: SwarmProtectorInit['invites']

  readonly [Symbol.toStringTag] = 'palm:swarm-protector'

  constructor (init: SwarmProtectorInit) {
    if (init.swarmKey?.byteLength !== SWARM_KEY_BYTES) {
      throw new InvalidConfigError(`the swarm key must be ${SWARM_KEY_BYTES} bytes; load it with loadOrCreateSwarmKey or from an invite code`)
    }
    this.#confirmKey = new Uint8Array(hkdfSync('sha256', init.swarmKey, new Uint8Array(0), CONFIRM_INFO, 32))
    this.#timeoutMs = init.handshakeTimeoutMs ?? 5_000
    this.#helloTimeoutMs = init.helloTimeoutMs ?? 1_000
    this.#relaxedPending = init.relaxedPending ?? 64
    this.#maxPendingPerHost = init.maxPendingPerHost ?? 16
    this.#onRefused = init.onRefused
    this.#invites = init.invites
  }

  async protect (raw: MessageStream, options: AbortOptions = {}): Promise<MessageStream> {
    const host = inboundHost(raw)
    if (host == null) return await this.#protect(raw, options, this.#timeoutMs)
    const pending = this.#pending.get(host) ?? 0
    if (pending >= this.#maxPendingPerHost) {
      const err = new PermissionError(`${host} already has ${pending} unfinished connection handshakes here; closing this one`)
      raw.abort(err)
      throw err
    }
    const pressed = pending >= PRESSED_PER_HOST || this.#pendingTotal >= this.#relaxedPending
    this.#pending.set(host, pending + 1)
    this.#pendingTotal++
    try {
      return await this.#protect(raw, options, pressed ? this.#helloTimeoutMs : this.#timeoutMs)
    } finally {
      this.#pendingTotal--
      const left = (this.#pending.get(host) ?? 1) - 1
      if (left > 0) this.#pending.set(host, left)
      else this.#pending.delete(host)
    }
  }

  async #protect (raw: MessageStream, options: AbortOptions, helloTimeoutMs: number): Promise<MessageStream> {
    const { signal, clear } = combineSignals([options.signal], this.#timeoutMs)
    const reader = new HandshakeReader(raw)
    const log = raw.log.newScope('palm-psk')
    try {
      const localNonce = randomBytes(NONCE_BYTES)
      raw.send(Buffer.concat([Uint8Array.of(PROTECTOR_VERSION), localNonce]))
      const helloWait = combineSignals([signal], helloTimeoutMs)
      let hello: Uint8Array
      try {
        hello = await reader.read(HELLO_BYTES, helloWait.signal)
      } finally {
        helloWait.clear()
      }
      if (hello[0] === INVITE_MAGIC && raw.direction === 'inbound') {
        await this.#answerInvite(raw, reader, hello, options, log)
        throw new ProtocolError(INVITE_OVER)
      }
      if (hello[0] !== PROTECTOR_VERSION) {
        throw new ProtocolError(`the remote device speaks swarm-key handshake version ${hello[0]}, this one ${PROTECTOR_VERSION}: it is not a PALM device of this release; upgrade the older one`)
      }
      const remoteNonce = hello.subarray(1)
      if (timingSafeEqual(remoteNonce, localNonce)) {
        throw new ProtocolError('the remote device echoed this device\'s handshake nonce (a reflected connection); refusing it')
      }
      const [localRole, remoteRole] = raw.direction === 'outbound' ? [INITIATOR, RESPONDER] : [RESPONDER, INITIATOR]
      raw.send(confirmTag(this.#confirmKey, localRole, localNonce, remoteNonce))
      const tag = await reader.read(TAG_BYTES, signal)
      if (!timingSafeEqual(tag, confirmTag(this.#confirmKey, remoteRole, remoteNonce, localNonce))) {
        this.#onRefused?.()
        throw new PermissionError('the remote device does not hold this swarm\'s key, so it cannot connect; give it an invite code (`palm invite`) if it should join')
      }
      log('swarm key confirmed')
      reader.detach()
      return new GatedStream({ raw, leftover: reader.buffer })
    } catch (err) {
      reader.detach()
      if ((err as Error).message === INVITE_OVER) log('closing the connection after its invite exchange')
      else log.error('swarm-key handshake failed - %e', err)
      raw.abort(err as Error)
      throw err
    } finally {
      clear()
    }
  }

  /** Runs the invite exchange on a connection that opened with one, then closes it gracefully. */
  async #answerInvite (raw: MessageStream, reader: HandshakeReader, start: Uint8Array, options: AbortOptions, log: (...args: any[]) => void): Promise<void> {
    const invites = this.#invites
    if (invites == null) throw new PermissionError('a device tried to redeem an invite here, but this node answers no invites')
    const { signal, clear } = combineSignals([options.signal], INVITE_EXCHANGE_TIMEOUT_MS)
    try {
      const hello = Buffer.concat([start, await reader.read(INVITE_HELLO_BYTES - start.byteLength, signal)])
      const r = await answerInvite({ read: async (n, s) => await reader.read(n, s), send: (b) => { raw.send(b) } }, hello, invites.authority, invites.deviceKey, signal)
      if ('device' in r) {
        log('invite redeemed by device %s', r.device)
        invites.onJoined?.(r.device)
      } else {
        log('invite refused (%s): %s', r.refused, r.detail)
      }
      await raw.close({ signal })
    } finally {
      clear()
    }
  }
}

/** libp2p `connectionProtector` factory: `createLibp2p({ connectionProtector: swarmProtector({ swarmKey }) })`. */
export function swarmProtector (init: SwarmProtectorInit): () => ConnectionProtector {
  const protector = new SwarmProtector(init)
  return () => protector
}
