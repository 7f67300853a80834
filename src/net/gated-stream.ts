/**
 * The stream a protected connection runs on after the swarm-key handshake: every byte is XORed
 * with a ChaCha20 keystream from node:crypto, one key per direction. Shaped like noise's
 * EncryptedMessageStream: the raw connection's events (message, close, drain, remoteCloseWrite)
 * are forwarded, so backpressure and half-close work through it.
 */
import { createCipheriv, type Cipher } from 'node:crypto'
import { AbstractMessageStream } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { ProtocolError } from '../errors.js'
import type { AbortOptions, MessageStream } from '@libp2p/interface'
import type { SendResult } from '@libp2p/utils'

/**
 * OpenSSL's ChaCha20 counter is 32 bits of 64-byte blocks (256 GiB). The keys are per connection
 * and direction, so a connection that moves this much in one direction is closed (and redialled)
 * before any keystream could repeat.
 */
export const MAX_BYTES_PER_DIRECTION = 2 ** 37

/** One direction's cipher: a 32-byte key and a 12-byte nonce (the 32-bit block counter starts at 0). */
export interface DirectionKey {
  key: Uint8Array
  nonce: Uint8Array
}

export interface ProtectedStreamInit {
  /** The raw (TCP) connection the handshake ran on. */
  raw: MessageStream
  send: DirectionKey
  receive: DirectionKey
  /** Bytes that arrived after the handshake and before this stream existed (still encrypted). */
  leftover: Uint8ArrayList
}

function chacha (k: DirectionKey): Cipher {
  const iv = new Uint8Array(16)
  iv.set(k.nonce, 4)
  return createCipheriv('chacha20', k.key, iv)
}

export class ProtectedStream extends AbstractMessageStream {
  readonly #raw: MessageStream
  readonly #encrypt: Cipher
  readonly #decrypt: Cipher
  #sentBytes = 0
  #receivedBytes = 0

  constructor (init: ProtectedStreamInit) {
    super({
      log: init.raw.log.newScope('palm-psk'),
      direction: init.raw.direction,
      inactivityTimeout: init.raw.inactivityTimeout,
      maxReadBufferLength: init.raw.maxReadBufferLength
    })
    this.#raw = init.raw
    this.#encrypt = chacha(init.send)
    this.#decrypt = chacha(init.receive)

    this.#raw.addEventListener('message', (evt) => {
      try {
        this.#onRaw(evt.data)
      } catch (err) {
        this.abort(err as Error)
      }
    })
    this.#raw.addEventListener('close', (evt) => {
      if (evt.error != null) {
        if (evt.local === true) this.abort(evt.error)
        else this.onRemoteReset()
      } else {
        this.onTransportClosed()
      }
    })
    this.#raw.addEventListener('drain', () => { this.safeDispatchEvent('drain') })
    this.#raw.addEventListener('remoteCloseWrite', () => { this.onRemoteCloseWrite() })

    if (init.leftover.byteLength > 0) this.#onRaw(init.leftover)
  }

  #onRaw (data: Uint8Array | Uint8ArrayList): void {
    this.#receivedBytes += data.byteLength
    if (this.#receivedBytes > MAX_BYTES_PER_DIRECTION) {
      throw new ProtocolError('protected connection received its keystream limit; closing it so that it is redialled with fresh keys')
    }
    if (data instanceof Uint8Array) {
      this.onData(this.#decrypt.update(data))
      return
    }
    this.onData(this.#decrypt.update(data.subarray()))
  }

  sendData (data: Uint8ArrayList): SendResult {
    this.#sentBytes += data.byteLength
    if (this.#sentBytes > MAX_BYTES_PER_DIRECTION) {
      throw new ProtocolError('protected connection sent its keystream limit; closing it so that it is redialled with fresh keys')
    }
    // one cipher call per send: the list is often many tiny pieces (noise length prefixes, yamux
    // headers) and a call per piece costs more than joining them
    const out = this.#encrypt.update(data.subarray())
    return { sentBytes: data.byteLength, canSendMore: this.#raw.send(out) }
  }

  async close (options?: AbortOptions): Promise<void> {
    await this.#raw.close(options)
  }

  sendReset (err: Error): void {
    this.#raw.abort(err)
  }

  sendPause (): void {
    this.#raw.pause()
  }

  sendResume (): void {
    this.#raw.resume()
  }
}
