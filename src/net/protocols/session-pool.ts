/**
 * Fragment-protocol sessions: one stream to one peer carrying a sequence of request/reply
 * exchanges. Idle sessions are kept per peer for a few seconds and reused, so a run of gets does
 * not pay a stream opening (protocol negotiation, a fresh 256 KiB yamux window) per fragment.
 * A session that failed in any way is never reused. Idle sessions are closed well before the
 * server's idle limit (its request timeout), so the server never counts them as timeouts.
 */
import { combineSignals, throwIfAborted, type AbortOptions } from '../../util/abort.js'
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

  /**
   * Closes the stream gracefully. It is gone (and its slot in the pool free) once the peer closes
   * its side too; a peer that has not done so after the request timeout gets the stream reset.
   */
  close (): void {
    const stream = this.framed.stream
    void stream.close().catch(() => {})
    if (stream.status !== 'open') return
    const timer = setTimeout(() => { if (stream.status === 'open') stream.abort(new Error('the peer did not close the stream')) }, this.owner.limits.requestTimeoutMs)
    timer.unref?.()
    stream.addEventListener('close', () => { clearTimeout(timer) }, { once: true })
  }
}

export interface SessionPoolInit {
  /**
   * Sessions open to one peer at once, idle ones included (default 8). The peer's fragment server
   * refuses streams past its own limit per connection (`maxInboundStreams`), and a refused stream
   * looks like a lost connection, so the pool never opens more than that: a request past it waits
   * for a session to come back or to finish closing.
   */
  maxOpenPerPeer?: number
  /** Idle sessions kept per peer (default 4). */
  maxIdlePerPeer?: number
  /** An idle session is closed after this long, ms (default 5000). */
  idleMs?: number
}

/** `fresh`: never an idle session (a retry); `force`: on a new connection (passed to the opener). */
export interface AcquireOptions extends AbortOptions {
  fresh?: boolean
  force?: boolean
}

export type SessionOpener = (peer: PeerId, what: string, options: AbortOptions, force: boolean) => Promise<Session>

/** One peer's sessions: the idle ones, how many are open (idle, in use or closing), who waits. */
interface PeerSlots {
  idle: Session[]
  open: number
  waiters: Array<() => void>
}

export class SessionPool {
  readonly #peers = new Map<string, PeerSlots>()
  readonly #maxOpen: number
  readonly #maxIdle: number
  readonly #idleMs: number
  readonly #open: SessionOpener
  #sweeper?: ReturnType<typeof setInterval>

  constructor (init: SessionPoolInit, open: SessionOpener) {
    this.#maxOpen = Math.max(1, init.maxOpenPerPeer ?? 8)
    this.#maxIdle = Math.min(init.maxIdlePerPeer ?? 4, this.#maxOpen)
    this.#idleMs = init.idleMs ?? 5_000
    this.#open = open
  }

  #slots (peer: string): PeerSlots {
    let p = this.#peers.get(peer)
    if (p == null) { p = { idle: [], open: 0, waiters: [] }; this.#peers.set(peer, p) }
    return p
  }

  /** An idle session to `peer`, or a new one once fewer than `maxOpenPerPeer` are open. */
  async acquire (peer: PeerId, what: string, options: AbortOptions & AcquireOptions = {}): Promise<Session> {
    const key = peer.toString()
    const p = this.#slots(key)
    while (true) {
      while (options.fresh !== true && p.idle.length > 0) {
        const s = p.idle.pop() as Session
        if (s.usable) return s
        s.close()
      }
      if (p.open < this.#maxOpen) break
      // A fresh session cannot use an idle one, so one idle session gives up its slot.
      if (options.fresh === true) p.idle.shift()?.close()
      await this.#wait(p, what, options.signal)
    }
    p.open++
    let s: Session
    try {
      s = await this.#open(peer, what, options, options.force === true)
    } catch (err) {
      this.#free(key, p)
      throw err
    }
    // The slot is the peer's until its stream is closed both ways (or reset): until then the peer
    // still counts it against its limit.
    const stream = s.framed.stream
    if (stream.status !== 'open') this.#free(key, p)
    else stream.addEventListener('close', () => { this.#free(key, p) }, { once: true })
    return s
  }

  async #wait (p: PeerSlots, what: string, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal, what)
    await new Promise<void>((resolve, reject) => {
      const wake = (): void => { signal?.removeEventListener('abort', onAbort); resolve() }
      const onAbort = (): void => {
        const i = p.waiters.indexOf(wake)
        if (i >= 0) p.waiters.splice(i, 1)
        try { throwIfAborted(signal, what) } catch (err) { reject(err) }
      }
      p.waiters.push(wake)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  #free (key: string, p: PeerSlots): void {
    p.open--
    p.waiters.shift()?.()
    if (p.open === 0 && p.idle.length === 0 && p.waiters.length === 0 && this.#peers.get(key) === p) this.#peers.delete(key)
  }

  /** Returns a session after a successful exchange (a broken one is dropped). */
  release (s: Session): void {
    const p = this.#peers.get(s.peer)
    if (!s.usable || p == null || p.idle.length >= this.#maxIdle) { s.close(); return }
    s.idleSinceMs = Date.now()
    p.idle.push(s)
    if (p.waiters.length > 0) { p.waiters.shift()?.(); return }
    this.#sweeper ??= setInterval(() => { this.#sweep() }, Math.max(250, Math.floor(this.#idleMs / 2)))
    this.#sweeper.unref?.()
  }

  #sweep (): void {
    const cutoff = Date.now() - this.#idleMs
    for (const p of this.#peers.values()) {
      const keep = p.idle.filter(s => s.idleSinceMs > cutoff && s.usable)
      for (const s of p.idle) if (!keep.includes(s)) s.close()
      p.idle = keep
    }
    if (![...this.#peers.values()].some(p => p.idle.length > 0) && this.#sweeper != null) { clearInterval(this.#sweeper); this.#sweeper = undefined }
  }

  /** Closes every idle session (node stop). */
  closeAll (): void {
    for (const p of this.#peers.values()) { for (const s of p.idle) s.close(); p.idle = [] }
    if (this.#sweeper != null) { clearInterval(this.#sweeper); this.#sweeper = undefined }
  }
}
