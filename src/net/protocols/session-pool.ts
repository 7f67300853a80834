/**
 * Fragment-protocol sessions: one stream to one peer carrying a sequence of request/reply
 * exchanges. Idle sessions are kept per peer for a few seconds and reused, so a run of gets does
 * not pay a stream opening (protocol negotiation, a fresh 256 KiB yamux window) per fragment.
 * A session that failed in any way is never reused. Idle sessions are closed well before the
 * server's idle limit (its request timeout), so the server never counts them as timeouts.
 */
import { combineSignals, throwIfAborted, type AbortOptions } from '../../util/abort.js'
import { isPalmError } from '../../errors.js'
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

/** A stream or connection broke under a request (not a device that cannot be reached at all). */
export const isLost = (err: unknown): boolean => isPalmError(err) && err.name === 'NotConnectedError' && err.details.lost === true

/** The device cannot be reached at all (its dial failed), as opposed to a stream lost under a request. */
const isUnreachable = (err: unknown): boolean => isPalmError(err) && err.name === 'NotConnectedError' && !isLost(err)

/** What a waiting request is given: a session to use, or a slot (counted in `open`) to open one in. */
type Grant = { session: Session } | { slot: true }

interface Waiter {
  fresh: boolean
  grant: (g: Grant) => void
  fail: (err: unknown) => void
}

/** One peer's sessions: the idle ones, how many are open (idle, in use or closing), who waits. */
interface PeerSlots {
  idle: Session[]
  open: number
  /** First come, first served: a freed slot or a released session goes to the first waiter. */
  waiters: Waiter[]
}

/**
 * Invariants: `open` never exceeds `maxOpen`; a slot or a session freed while requests wait is
 * handed to the first of them (never picked up by a newcomer); there is an idle session only when
 * no request that could use one waits. Peers' entries are kept (a swarm has few devices).
 */
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
    throwIfAborted(options.signal, what)
    const p = this.#slots(peer.toString())
    const fresh = options.fresh === true
    while (!fresh && p.idle.length > 0) {
      const s = p.idle.pop() as Session
      if (s.usable) return s
      s.close()
    }
    if (p.waiters.length === 0 && p.open < this.#maxOpen) {
      p.open++
    } else {
      // A fresh session cannot use an idle one, so an idle session gives up its slot for it.
      if (fresh) p.idle.shift()?.close()
      const g = await this.#wait(p, fresh, what, options.signal)
      if ('session' in g) return g.session
    }
    return await this.#openIn(peer, p, what, options)
  }

  /** Opens a session in a slot already counted in `p.open`. */
  async #openIn (peer: PeerId, p: PeerSlots, what: string, options: AbortOptions & AcquireOptions): Promise<Session> {
    let s: Session
    try {
      s = await this.#open(peer, what, options, options.force === true)
    } catch (err) {
      // A device that cannot be reached now fails the requests queued for it the same way.
      if (options.signal?.aborted !== true && isUnreachable(err)) {
        for (const w of p.waiters.splice(0)) w.fail(err)
      }
      this.#free(p)
      throw err
    }
    // The slot is the peer's until its stream is closed both ways (or reset): until then the peer
    // still counts it against its limit.
    const stream = s.framed.stream
    if (stream.status !== 'open') this.#free(p)
    else stream.addEventListener('close', () => { this.#free(p) }, { once: true })
    return s
  }

  async #wait (p: PeerSlots, fresh: boolean, what: string, signal?: AbortSignal): Promise<Grant> {
    return await new Promise<Grant>((resolve, reject) => {
      const onAbort = (): void => {
        const i = p.waiters.indexOf(waiter)
        if (i >= 0) p.waiters.splice(i, 1)
        try { throwIfAborted(signal, what) } catch (err) { reject(err) }
      }
      const done = (): void => { signal?.removeEventListener('abort', onAbort) }
      const waiter: Waiter = {
        fresh,
        grant: (g) => {
          done()
          // Cancelled meanwhile: what it was given goes on to the next.
          if (signal?.aborted === true) {
            if ('session' in g) this.release(g.session)
            else this.#free(p)
            onAbort()
            return
          }
          resolve(g)
        },
        fail: (err) => { done(); reject(err) }
      }
      p.waiters.push(waiter)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** A stream of `p` is gone: its slot goes to the first waiter, or is free. */
  #free (p: PeerSlots): void {
    const w = p.waiters.shift()
    if (w != null) w.grant({ slot: true })
    else p.open--
  }

  /** Returns a session after a successful exchange (a broken one is dropped). */
  release (s: Session): void {
    const p = this.#peers.get(s.peer)
    if (!s.usable || p == null) { s.close(); return }
    const i = p.waiters.findIndex(w => !w.fresh)
    if (i >= 0) { p.waiters.splice(i, 1)[0].grant({ session: s }); return }
    // Only fresh requests wait: closing the session passes its slot on when its stream is gone.
    if (p.waiters.length > 0 || p.idle.length >= this.#maxIdle) { s.close(); return }
    s.idleSinceMs = Date.now()
    p.idle.push(s)
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
