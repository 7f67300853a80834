/**
 * Fragment-protocol sessions: one stream to one peer carrying a sequence of request/reply
 * exchanges. Idle sessions are kept per peer for a few seconds and reused, so a run of gets does
 * not pay a stream opening (protocol negotiation, a fresh 256 KiB yamux window) per fragment.
 * A session that failed in any way is never reused. Idle sessions are closed well before the
 * server's idle limit (its request timeout), so the server never counts them as timeouts.
 */
import { combineSignals, type AbortOptions } from '../../util/abort.js'
import { frameError, type FramedStream } from './frames.js'
import { decodeResponse, encodeRequest, type DecodeLimits, type MsgType, type Request, type Response } from './fragment-messages.js'
import type { PeerId } from '@libp2p/interface'

export interface SessionOwner {
  readonly limits: DecodeLimits & { requestTimeoutMs: number }
  readonly shutdown: AbortSignal
  /** Turns any failure into the PalmError that names the peer and the operation. */
  mapError: (err: unknown, peer: string, what: string, userSignal?: AbortSignal) => Error
}

export class Session {
  /** Set once an exchange failed: the stream was aborted and must not be reused. */
  broken = false
  idleSinceMs = 0

  constructor (readonly framed: FramedStream, readonly peer: string, readonly describe: string, readonly owner: SessionOwner) {}

  /** Sends `req` and reads its reply (deadline: the request timeout). */
  async exchange (req: Request, expected: MsgType, what: string, options: AbortOptions): Promise<Response> {
    const [res] = await this.pipeline([{ req, expected }], what, options)
    return res
  }

  /**
   * Sends `reqs` back to back, then reads their replies in order (the server answers one request
   * at a time, so the second waits in its stream until the first is answered): a round trip is
   * paid once for all of them. Deadline: the request timeout per request, for all of them together.
   */
  async pipeline (reqs: Array<{ req: Request, expected: MsgType }>, what: string, options: AbortOptions): Promise<Response[]> {
    const { signal, clear } = combineSignals([options.signal, this.owner.shutdown], this.owner.limits.requestTimeoutMs * reqs.length)
    try {
      for (const r of reqs) await this.framed.write(encodeRequest(r.req), signal)
      const replies: Response[] = []
      for (const r of reqs) {
        const frame = await this.framed.read(signal)
        if (frame == null) throw frameError('unexpected', 'the peer closed the stream without replying')
        replies.push(decodeResponse(frame.subarray(), r.expected, this.owner.limits))
      }
      return replies
    } catch (err) {
      this.broken = true
      this.framed.stream.abort(err as Error)
      throw this.owner.mapError(err, this.describe, what, options.signal)
    } finally {
      clear()
    }
  }

  /** The stream can still carry a request both ways. */
  get usable (): boolean {
    const s = this.framed.stream
    return !this.broken && s.status === 'open' && s.writeStatus === 'writable' && s.remoteWriteStatus === 'writable'
  }

  close (): void {
    void this.framed.stream.close().catch(() => {})
  }
}

export interface SessionPoolInit {
  /** Idle sessions kept per peer (default 4). */
  maxIdlePerPeer?: number
  /** An idle session is closed after this long, ms (default 5000). */
  idleMs?: number
}

export class SessionPool {
  readonly #idle = new Map<string, Session[]>()
  readonly #maxIdle: number
  readonly #idleMs: number
  readonly #open: (peer: PeerId, what: string, options: AbortOptions) => Promise<Session>
  #sweeper?: ReturnType<typeof setInterval>

  constructor (init: SessionPoolInit, open: (peer: PeerId, what: string, options: AbortOptions) => Promise<Session>) {
    this.#maxIdle = init.maxIdlePerPeer ?? 4
    this.#idleMs = init.idleMs ?? 5_000
    this.#open = open
  }

  /** An idle session to `peer`, or a new one. */
  async acquire (peer: PeerId, what: string, options: AbortOptions): Promise<Session> {
    const list = this.#idle.get(peer.toString())
    while (list != null && list.length > 0) {
      const s = list.pop() as Session
      if (s.usable) return s
      s.close()
    }
    return await this.#open(peer, what, options)
  }

  /** Returns a session after a successful exchange (a broken one is dropped). */
  release (s: Session): void {
    if (!s.usable) { s.close(); return }
    let list = this.#idle.get(s.peer)
    if (list == null) { list = []; this.#idle.set(s.peer, list) }
    if (list.length >= this.#maxIdle) { s.close(); return }
    s.idleSinceMs = Date.now()
    list.push(s)
    this.#sweeper ??= setInterval(() => { this.#sweep() }, Math.max(250, Math.floor(this.#idleMs / 2)))
    this.#sweeper.unref?.()
  }

  #sweep (): void {
    const cutoff = Date.now() - this.#idleMs
    for (const [peer, list] of this.#idle) {
      const keep = list.filter(s => s.idleSinceMs > cutoff && s.usable)
      for (const s of list) if (!keep.includes(s)) s.close()
      if (keep.length > 0) this.#idle.set(peer, keep)
      else this.#idle.delete(peer)
    }
    if (this.#idle.size === 0 && this.#sweeper != null) { clearInterval(this.#sweeper); this.#sweeper = undefined }
  }

  /** Closes every idle session (node stop). */
  closeAll (): void {
    for (const list of this.#idle.values()) for (const s of list) s.close()
    this.#idle.clear()
    if (this.#sweeper != null) { clearInterval(this.#sweeper); this.#sweeper = undefined }
  }
}
