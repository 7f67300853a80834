/**
 * The stream a connection runs on once it has passed the swarm-key gate (protector.ts): bytes pass
 * through unchanged, because noise on top is the one cipher (see docs/network.md, "The private
 * network"). Shaped like noise's EncryptedMessageStream: the raw connection's events (message,
 * close, drain, remoteCloseWrite) are forwarded, so backpressure and half-close work through it.
 *
 * What it still does: it hands on the bytes that arrived with the gate's last message, and it joins
 * each send into one buffer. Noise emits a 2-byte length prefix, the ciphertext pieces and a 16-byte
 * tag per 64 KiB message, and @libp2p/tcp makes one `socket.write` (one syscall, with no-delay one
 * segment) per buffer; one write per send is cheaper than the copy.
 */
import { AbstractMessageStream } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { AbortOptions, MessageStream } from '@libp2p/interface'
import type { SendResult } from '@libp2p/utils'

export interface GatedStreamInit {
  /** The raw (TCP) connection the gate ran on. */
  raw: MessageStream
  /** Bytes that arrived after the gate's last message and before this stream existed. */
  leftover: Uint8ArrayList
}

export class GatedStream extends AbstractMessageStream {
  readonly #raw: MessageStream

  constructor (init: GatedStreamInit) {
    super({
      log: init.raw.log.newScope('palm-psk'),
      direction: init.raw.direction,
      inactivityTimeout: init.raw.inactivityTimeout,
      maxReadBufferLength: init.raw.maxReadBufferLength
    })
    this.#raw = init.raw
    this.#raw.addEventListener('message', (evt) => {
      try {
        this.onData(evt.data)
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

    if (init.leftover.byteLength > 0) this.onData(init.leftover)
  }

  sendData (data: Uint8ArrayList): SendResult {
    return { sentBytes: data.byteLength, canSendMore: this.#raw.send(data.subarray()) }
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
