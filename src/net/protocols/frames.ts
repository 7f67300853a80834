/**
 * Length-prefixed frames (unsigned varint length, then the bytes) over a libp2p v3 stream, with a
 * hard size limit checked before the body is buffered, clean-EOF detection at frame boundaries and
 * write backpressure (send() false → wait for drain).
 */
import { byteStream, type ByteStream } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { ProtocolError } from '../../errors.js'
import { abortError } from '../../util/abort.js'
import type { Stream } from '@libp2p/interface'

/** Why a frame was rejected; the server counts each kind. */
export type FrameFault = 'malformed' | 'oversized' | 'unexpected' | 'timeout'

/** A ProtocolError that says which counter it belongs to. */
export function frameError (fault: FrameFault, message: string, cause?: unknown): Error {
  return new ProtocolError(message, { cause, details: { fault } })
}

/** The counter a failure belongs to. */
export function faultOf (err: unknown): FrameFault | undefined {
  if (err instanceof ProtocolError) return err.details.fault as FrameFault | undefined
  if (err instanceof Error && (err.name === 'TimeoutError' || (err as { code?: string }).code === 'ETIMEDOUT')) return 'timeout'
  return undefined
}

const MAX_VARINT_BYTES = 8

export function encodeVarint (n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint out of range: ${n}`)
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}

/** Reads an unsigned varint (LEB128, at most 8 bytes) at `pos`: [value, position after it]. */
export function decodeVarint (buf: Uint8Array, pos: number): [number, number] {
  let n = 0
  let scale = 1
  for (let i = 0; i < 8; i++) {
    if (pos >= buf.byteLength) throw frameError('malformed', 'frame ends early')
    const b = buf[pos++]
    n += (b & 0x7f) * scale
    if ((b & 0x80) === 0) return [n, pos]
    scale *= 0x80
  }
  throw frameError('malformed', 'varint too long')
}

export class FramedStream {
  readonly stream: Stream
  readonly #bytes: ByteStream<Stream>
  readonly #maxFrameBytes: number

  constructor (stream: Stream, maxFrameBytes: number) {
    this.stream = stream
    this.#maxFrameBytes = maxFrameBytes
    this.#bytes = byteStream(stream, { maxBufferSize: maxFrameBytes + 64 })
  }

  /**
   * The next frame, or null when the peer closed its side cleanly between frames. Throws a
   * ProtocolError (fault 'oversized' / 'malformed') or the signal's error. `reserve`, when given,
   * is asked for the frame's length before its body is read; when it returns false the frame is
   * refused (fault 'oversized') without buffering it.
   */
  async read (signal: AbortSignal, reserve?: (bytes: number) => boolean): Promise<Uint8ArrayList | null> {
    let length = 0
    let scale = 1
    for (let i = 0; ; i++) {
      if (i >= MAX_VARINT_BYTES) throw frameError('malformed', 'frame length prefix is too long')
      let byte: number
      try {
        byte = (await this.#bytes.read({ bytes: 1, signal })).get(0)
      } catch (err) {
        if (signal.aborted) throw abortError(signal, 'frame read')
        if (i === 0 && (err as Error).name === 'UnexpectedEOFError') return null
        if ((err as Error).name === 'UnexpectedEOFError') throw frameError('malformed', 'stream ended inside a frame length prefix', err)
        throw err
      }
      length += (byte & 0x7f) * scale
      scale *= 0x80
      if ((byte & 0x80) === 0) break
    }
    if (length > this.#maxFrameBytes) {
      throw frameError('oversized', `frame of ${length} bytes is over the limit of ${this.#maxFrameBytes} bytes`)
    }
    if (length === 0) return new Uint8ArrayList()
    if (reserve != null && !reserve(length)) throw frameError('oversized', `frame of ${length} bytes is over the memory budget for frames in flight`)
    try {
      return await this.#bytes.read({ bytes: length, signal })
    } catch (err) {
      if (signal.aborted) throw abortError(signal, 'frame read')
      if ((err as Error).name === 'UnexpectedEOFError') throw frameError('malformed', `stream ended inside a frame of ${length} bytes`, err)
      throw err
    }
  }

  /** Sends one frame, waiting for the stream to drain when its buffer is full. */
  async write (body: Uint8Array | Uint8ArrayList, signal: AbortSignal): Promise<void> {
    if (body.byteLength > this.#maxFrameBytes) {
      throw frameError('oversized', `refusing to send a frame of ${body.byteLength} bytes (limit ${this.#maxFrameBytes})`)
    }
    const frame = new Uint8ArrayList(encodeVarint(body.byteLength))
    frame.append(body)
    if (!this.stream.send(frame)) {
      await this.stream.onDrain({ signal })
    }
  }
}
