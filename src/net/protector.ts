/**
 * The private-network gate: "no swarm key, no connection". Replaces @libp2p/pnet, which crashes
 * the process on writes above ~640 KiB and halves throughput (see docs/network.md).
 *
 * Handshake, both sides at once, before noise:
 *   1. send `version ‖ nonce` (1 + 32 random bytes), read the peer's;
 *   2. send `tag = HMAC-SHA256(confirmKey, label ‖ myNonce ‖ peerNonce)`, read and check the peer's
 *      (constant-time). A peer without the key cannot make the tag: the connection is refused here,
 *      before noise, with a message that says the keys differ.
 * Then each direction is XORed with ChaCha20 under `HKDF(swarmKey, salt = senderNonce ‖ receiverNonce)`:
 * fresh keys per connection and direction, so no keystream is ever reused. The layer gives
 * confidentiality against outsiders and the gate; integrity and peer identity come from noise on top
 * (a flipped bit fails noise's AEAD and the connection closes).
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { InvalidConfigError, PermissionError, ProtocolError } from '../errors.js'
import { combineSignals, abortError } from '../util/abort.js'
import { SWARM_KEY_BYTES } from '../util/swarm-salt.js'
import { ProtectedStream, type DirectionKey } from './protected-stream.js'
import type { AbortOptions, ConnectionProtector, MessageStream, StreamMessageEvent, StreamCloseEvent } from '@libp2p/interface'

/** Wire version of the handshake. */
export const PROTECTOR_VERSION = 1
const NONCE_BYTES = 32
const TAG_BYTES = 32
const HELLO_BYTES = 1 + NONCE_BYTES
const CONFIRM_INFO = 'palm/psk/v1/confirm'
const STREAM_INFO = 'palm/psk/v1/stream'

export interface SwarmProtectorInit {
  /** The 32-byte swarm key (required). */
  swarmKey: Uint8Array
  /** The handshake (two messages each way) must finish within this many ms (default 5000). */
  handshakeTimeoutMs?: number
  /** Called when a remote device fails the key check (for counters). */
  onRefused?: () => void
}

function directionKey (swarmKey: Uint8Array, senderNonce: Uint8Array, receiverNonce: Uint8Array): DirectionKey {
  const salt = Buffer.concat([senderNonce, receiverNonce])
  const okm = new Uint8Array(hkdfSync('sha256', swarmKey, salt, STREAM_INFO, 32 + 12))
  return { key: okm.subarray(0, 32), nonce: okm.subarray(32) }
}

function confirmTag (confirmKey: Uint8Array, senderNonce: Uint8Array, receiverNonce: Uint8Array): Uint8Array {
  return createHmac('sha256', confirmKey).update(CONFIRM_INFO).update(senderNonce).update(receiverNonce).digest()
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
  readonly #swarmKey: Uint8Array
  readonly #confirmKey: Uint8Array
  readonly #timeoutMs: number
  readonly #onRefused?: () => void

  readonly [Symbol.toStringTag] = 'palm:swarm-protector'

  constructor (init: SwarmProtectorInit) {
    if (init.swarmKey?.byteLength !== SWARM_KEY_BYTES) {
      throw new InvalidConfigError(`the swarm key must be ${SWARM_KEY_BYTES} bytes; load it with loadOrCreateSwarmKey or from an invite code`)
    }
    this.#swarmKey = init.swarmKey.slice()
    this.#confirmKey = new Uint8Array(hkdfSync('sha256', this.#swarmKey, new Uint8Array(0), CONFIRM_INFO, 32))
    this.#timeoutMs = init.handshakeTimeoutMs ?? 5_000
    this.#onRefused = init.onRefused
  }

  async protect (raw: MessageStream, options: AbortOptions = {}): Promise<MessageStream> {
    const { signal, clear } = combineSignals([options.signal], this.#timeoutMs)
    const reader = new HandshakeReader(raw)
    const log = raw.log.newScope('palm-psk')
    try {
      const localNonce = randomBytes(NONCE_BYTES)
      raw.send(Buffer.concat([Uint8Array.of(PROTECTOR_VERSION), localNonce]))
      const hello = await reader.read(HELLO_BYTES, signal)
      if (hello[0] !== PROTECTOR_VERSION) {
        throw new ProtocolError(`the remote device speaks swarm-key handshake version ${hello[0]}, this one ${PROTECTOR_VERSION}: it is not a PALM device of this release; upgrade the older one`)
      }
      const remoteNonce = hello.subarray(1)
      if (timingSafeEqual(remoteNonce, localNonce)) {
        throw new ProtocolError('the remote device echoed this device\'s handshake nonce (a reflected connection); refusing it')
      }
      raw.send(confirmTag(this.#confirmKey, localNonce, remoteNonce))
      const tag = await reader.read(TAG_BYTES, signal)
      if (!timingSafeEqual(tag, confirmTag(this.#confirmKey, remoteNonce, localNonce))) {
        this.#onRefused?.()
        throw new PermissionError('the remote device does not hold this swarm\'s key, so it cannot connect; give it an invite code (`palm invite`) if it should join')
      }
      log('swarm key confirmed')
      reader.detach()
      return new ProtectedStream({
        raw,
        send: directionKey(this.#swarmKey, localNonce, remoteNonce),
        receive: directionKey(this.#swarmKey, remoteNonce, localNonce),
        leftover: reader.buffer
      })
    } catch (err) {
      reader.detach()
      log.error('swarm-key handshake failed - %e', err)
      raw.abort(err as Error)
      throw err
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
