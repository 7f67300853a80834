/**
 * One peer as journal replication sees it: what it holds (its last known version vector), the ops
 * waiting to be pushed to it (a bounded queue: past the bound it is dropped and the peer pulls
 * instead), and one worker that runs this device's requests to it one at a time on one stream
 * (push, vector exchange, pull). A failed exchange drops the stream and backs off; the next
 * exchange opens a new stream and a pull always starts from this device's current vector, so a cut
 * connection resumes where it stopped.
 */
import { ProtocolError } from '../../errors.js'
import { combineSignals, type AbortOptions } from '../../util/abort.js'
import { FramedStream, frameError } from './frames.js'
import {
  JournalMsg, decodeJournalResponse, encodeJournalRequest, wireSize,
  type JournalLimits, type JournalRequest, type JournalResponse, type Vector
} from './journal-messages.js'
import type { ApplyReport, JournalReplica, PeerJournalStats, WireOp } from '../journal-types.js'
import type { Logger, Stream } from '@libp2p/interface'

/** Settings a link uses (resolved once by JournalSyncImpl). */
export interface LinkSettings extends JournalLimits {
  batchOps: number
  /** A push starts at least this long after the previous one (ops committed meanwhile join it), ms. */
  pushGapMs: number
  batchBytes: number
  maxFrameBytes: number
  maxQueuedOps: number
  maxQueuedBytes: number
  requestTimeoutMs: number
  /** An unused stream is closed after this long, ms. */
  idleMs: number
}

/** What a link needs from the replication service that owns it. */
export interface LinkOwner {
  readonly settings: LinkSettings
  readonly replica: JournalReplica
  readonly shutdown: AbortSignal
  readonly log: Logger
  readonly selfId: string
  openStream: (peer: string, options: AbortOptions) => Promise<Stream>
  /** Applies received ops (serialised, counted in the link's stats). */
  apply: (link: PeerLink, ops: WireOp[], options: AbortOptions) => Promise<ApplyReport>
  /** Generation of this device's vector (changes whenever it grows). */
  vectorGen: () => number
  describe: (peer: string) => string
}

/** A pulled batch being applied. */
interface Applying { ops: WireOp[], report: Promise<ApplyReport> }

const MIN_BACKOFF_MS = 500
const MAX_BACKOFF_MS = 30_000
/** A pull that applied nothing is retried after this long, doubling up to MAX_STALL_MS. */
const STALL_MS = 2_000
const MAX_STALL_MS = 60_000

/** Sum over authors of max(0, a[author] − b[author]). */
export function opsAhead (a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): number {
  let n = 0
  for (const [author, seq] of a) n += Math.max(0, seq - (b.get(author) ?? 0))
  return n
}

export class PeerLink {
  readonly id: string
  readonly stats: PeerJournalStats
  /** Its version vector as last learned (vector exchange, pull reply, its own pull ranges). */
  readonly theirs = new Map<string, number>()
  /**
   * The last vector the peer itself reported, whole: one moment of its journal, in which every
   * op of its own it had logged before taking the others' counted is counted too. `theirs` also
   * grows by what the peer is seen to take (pushes it acknowledged, ranges it asks after), which
   * says nothing about its own ops meanwhile: a device written while it took a pushed op may hold
   * own ops older than that op that `theirs` does not count (what undo compaction must know).
   */
  readonly reported = new Map<string, number>()
  online = false
  wantVector = false
  wantPull = false
  /** Vector generation last sent to (or seen by) the peer, and when. */
  sentGen = -1
  lastExchangeMs = 0
  /** Push rate limit: tokens (ops) available, refilled per second. */
  tokens = 0
  tokensAtMs = 0
  lastFloodLogMs = 0
  readonly #o: LinkOwner
  #queue: WireOp[] = []
  #queueBytes = 0
  #overflowLogged = false
  #running?: Promise<void>
  #framed?: FramedStream
  #idleTimer?: ReturnType<typeof setTimeout>
  /** Wakes the worker when the push gap has passed. */
  #gapTimer?: ReturnType<typeof setTimeout>
  /** drain() runs: queued ops are due at once. */
  #draining = false
  /** When the last push started (performance.now()). */
  #lastPushMs = -Infinity
  #retryAtMs = 0
  #backoffMs = 0
  #stallMs = 0
  /** A pull that applied nothing waits until then. */
  #stallUntilMs = 0

  constructor (id: string, owner: LinkOwner) {
    this.id = id
    this.#o = owner
    this.stats = { id, opsReceived: 0, opsApplied: 0, opsDuplicate: 0, opsRefused: 0, opsPushed: 0, floodRefusals: 0, opsBehind: 0, peerLag: 0, lastSyncMs: 0, vectorKnown: false }
  }

  /** Takes in a vector the peer reported (replaces what was known). */
  learn (vector: Vector): void {
    this.theirs.clear()
    this.reported.clear()
    for (const [author, seq] of vector) {
      this.theirs.set(author, seq)
      this.reported.set(author, seq)
    }
    this.stats.vectorKnown = true
  }

  /** Records that the peer holds `author` up to at least `seq`. */
  holds (author: string, seq: number): void {
    if ((this.theirs.get(author) ?? 0) < seq) this.theirs.set(author, seq)
  }

  /** The peer holds ops this device lacks. */
  ahead (): boolean {
    return opsAhead(this.theirs, this.#o.replica.versionVector()) > 0
  }

  setOnline (online: boolean): void {
    if (online === this.online) return
    this.online = online
    this.#retryAtMs = 0
    this.#backoffMs = 0
    if (online) {
      this.wantVector = true
      this.kick()
    } else {
      this.#queue = []
      this.#queueBytes = 0
      this.#clearGapTimer()
      this.#closeStream()
    }
  }

  /** Queues this device's new ops for pushing; past the bound the queue is dropped and the peer pulls. */
  enqueue (ops: WireOp[]): void {
    if (!this.online) return
    let bytes = 0
    for (const o of ops) bytes += wireSize(o)
    if (this.#queue.length + ops.length > this.#o.settings.maxQueuedOps || this.#queueBytes + bytes > this.#o.settings.maxQueuedBytes) {
      if (!this.#overflowLogged) {
        this.#o.log('peer %s is not keeping up with pushed ops (%d queued); it will pull them instead', this.#o.describe(this.id), this.#queue.length + ops.length)
        this.#overflowLogged = true
      }
      this.#queue = []
      this.#queueBytes = 0
      this.wantVector = true
    } else {
      for (const o of ops) this.#queue.push(o)
      this.#queueBytes += bytes
    }
    this.kick()
  }

  /** Starts the worker unless it runs, or the link is offline or backing off. */
  kick (): void {
    if (this.#running != null || !this.online || this.#o.shutdown.aborted || Date.now() < this.#retryAtMs) return
    if (!this.#pushDue() && !this.wantVector && !this.wantPull) {
      this.#armGapTimer()
      return
    }
    if (this.#idleTimer != null) { clearTimeout(this.#idleTimer); this.#idleTimer = undefined }
    this.#running = this.#run().finally(() => {
      this.#running = undefined
      this.#scheduleIdleClose()
      if (this.#pushDue() || this.wantVector) this.kick()
      else this.#armGapTimer()
    })
  }

  /**
   * Ops wait to be pushed, and the gap since the last push has passed (or a frame's worth waits).
   * While a peer is busy applying one push, the next waits for the gap: ops committed one by one
   * (a file per commit while a program creates files) reach it as one message, one apply and one
   * commit, which costs it a fraction of one each (docs/journal.md, "Small pushes").
   */
  #pushDue (): boolean {
    if (this.#queue.length === 0) return false
    if (this.#draining) return true
    if (this.#queue.length >= this.#o.settings.batchOps || this.#queueBytes >= this.#o.settings.batchBytes) return true
    return performance.now() - this.#lastPushMs >= this.#o.settings.pushGapMs
  }

  #clearGapTimer (): void {
    if (this.#gapTimer != null) { clearTimeout(this.#gapTimer); this.#gapTimer = undefined }
  }

  /** Kicks the worker once the push gap has passed (ops are queued that are not due yet). */
  #armGapTimer (): void {
    if (this.#gapTimer != null || this.#queue.length === 0 || !this.online) return
    const wait = Math.max(0, this.#lastPushMs + this.#o.settings.pushGapMs - performance.now())
    this.#gapTimer = setTimeout(() => {
      this.#gapTimer = undefined
      this.kick()
    }, Math.ceil(wait))
    // Nothing is lost by not waiting for it at exit: a stopped device's peers pull.
    this.#gapTimer.unref?.()
  }

  /** Resolves when the worker is idle (tests, stop). */
  async idle (): Promise<void> { await this.#running }

  /**
   * Pushes what is queued now, without waiting for the gap (a stopping device), and waits for a
   * push already in flight; resolves when they are sent or failed.
   */
  async drain (): Promise<void> {
    this.#draining = true
    this.#clearGapTimer()
    try {
      while (this.online && !this.#o.shutdown.aborted) {
        // A push running now took its ops off the queue: it must end before the stop aborts it.
        if (this.#running != null) { await this.#running; continue }
        if (this.#queue.length === 0 || Date.now() < this.#retryAtMs) return
        this.kick()
        if (this.#running == null) return
      }
    } finally {
      this.#draining = false
    }
  }

  close (): void {
    this.online = false
    this.#queue = []
    this.#clearGapTimer()
    this.#closeStream()
  }

  async #run (): Promise<void> {
    while (this.online && !this.#o.shutdown.aborted && Date.now() >= this.#retryAtMs) {
      try {
        if (this.#pushDue()) await this.#push()
        else if (this.wantVector) await this.#exchangeVectors()
        else if (this.wantPull && Date.now() >= this.#stallUntilMs) await this.#pull()
        else return
        this.#backoffMs = 0
      } catch (err) {
        this.#failed(err)
        return
      }
    }
  }

  async #push (): Promise<void> {
    const { batchOps, batchBytes } = this.#o.settings
    let n = 0
    let bytes = 0
    while (n < this.#queue.length && n < batchOps && (n === 0 || bytes + wireSize(this.#queue[n]) <= batchBytes)) bytes += wireSize(this.#queue[n++])
    // A frame ends on a seal (an op with a signature, which vouches for the unsigned ones before
    // it): the peer could not verify, so would not apply, a run cut before it.
    while (n < this.#queue.length && this.#queue[n - 1].sig.byteLength === 0) bytes += wireSize(this.#queue[n++])
    const batch = this.#queue.splice(0, n)
    this.#lastPushMs = performance.now()
    this.#queueBytes = Math.max(0, this.#queueBytes - bytes)
    if (this.#queue.length === 0) this.#overflowLogged = false
    let res: JournalResponse
    try {
      res = await this.#exchange({ type: JournalMsg.Push, ops: batch }, JournalMsg.PushRes)
    } catch (err) {
      // Whether they arrived is unknown: the peer learns our vector and pulls what it lacks.
      this.wantVector = true
      throw err
    }
    if (res.type === JournalMsg.Error) {
      // Refused as a whole (the peer is busy): it pulls what it lacks when it can.
      this.#queue = []
      this.#queueBytes = 0
      this.wantVector = true
      this.#retryAtMs = Date.now() + 1_000
      this.#o.log('peer %s refused pushed ops (%s); it will pull them', this.#o.describe(this.id), res.reason)
      return
    }
    if (res.type !== JournalMsg.PushRes) return
    this.stats.opsPushed += batch.length
    this.stats.lastSyncMs = Date.now()
    if (res.refused === 0) for (const o of batch) this.holds(o.author, o.seq)
  }

  async #exchangeVectors (): Promise<void> {
    const gen = this.#o.vectorGen()
    const ours = this.#o.replica.versionVector()
    const res = await this.#exchange({ type: JournalMsg.Vector, vector: [...ours] }, JournalMsg.VectorRes)
    this.wantVector = false
    if (res.type !== JournalMsg.VectorRes) return
    this.learn(res.vector)
    this.sentGen = gen
    this.lastExchangeMs = Date.now()
    if (this.ahead()) {
      this.wantPull = true
      this.#stallUntilMs = 0
    }
  }

  /**
   * Pulls what the peer holds beyond this device's vector, batch by batch, until caught up. The
   * next batch is requested (from the vector the batches received so far will leave) as soon as
   * one arrives, and a batch starts applying while the one before it still commits (journal-sync
   * applies two at once): the peer's read, the transfer, the checks and the commits overlap. At
   * most two batches are applied and one requested at a time. If an apply falls short (an op
   * refused that the peer holds later ops of), the batch after it may be only duplicates or gaps:
   * once both are done, the next request starts again from the real vector.
   */
  async #pull (): Promise<void> {
    this.wantPull = false
    let next = this.#requestBatch(this.#o.replica.versionVector())
    let applying: Applying | undefined
    try {
      while (next != null && this.online) {
        const res = await next
        next = undefined
        if (res.type === JournalMsg.Error) {
          this.wantPull = true
          this.#stallUntilMs = Date.now() + STALL_MS
          return
        }
        if (res.type !== JournalMsg.Ops) return
        this.learn(res.vector)
        if (res.ops.length === 0) return
        const expected = this.#o.replica.versionVector()
        for (const ops of [applying?.ops ?? [], res.ops]) for (const o of ops) if ((expected.get(o.author) ?? 0) < o.seq) expected.set(o.author, o.seq)
        next = this.#requestBatch(expected)
        const before = applying
        applying = { ops: res.ops, report: this.#o.apply(this, res.ops, {}) }
        if (before == null) continue
        const outcome = await this.#applied(before)
        if (outcome === 'stall') return
        if (outcome === 'short') {
          // The batch after it was checked against ops it did not apply: let it end, then start
          // again from the real vector.
          await applying.report.catch(() => {})
          applying = undefined
          if (next != null) await next.catch(() => {})
          next = this.#requestBatch(this.#o.replica.versionVector())
        }
      }
      const last = applying
      applying = undefined
      if (last != null) await this.#applied(last)
    } finally {
      // A request still in flight when the pull ends: wait for it (the stream carries one exchange
      // at a time); its reply is not needed and a failure of it was already handled by #exchange.
      // A batch still being applied is awaited too (its stats are counted by the owner).
      if (applying != null) await applying.report.catch(() => {})
      if (next != null) await next.catch(() => {})
    }
  }

  /** What a pulled batch's apply says for the pull: go on, start again from the real vector, or pause. */
  async #applied (a: Applying): Promise<'ok' | 'short' | 'stall'> {
    const report = await a.report
    this.stats.lastSyncMs = Date.now()
    if (report.applied === 0 && report.duplicates < a.ops.length) {
      // Nothing this journal can take now (e.g. ops it cannot order yet): try again later, not in a loop.
      this.#stallMs = Math.min(MAX_STALL_MS, this.#stallMs === 0 ? STALL_MS : this.#stallMs * 2)
      this.#stallUntilMs = Date.now() + this.#stallMs
      this.wantPull = true
      this.#o.log.trace('pull from %s applied nothing (%d refused); next try in %d ms', this.id, report.refused.length, this.#stallMs)
      return 'stall'
    }
    this.#stallMs = 0
    // Short only when the peer holds ops after a refused one (they would be gaps): an op refused
    // alone at the end of its author's run (e.g. of a device not admitted here yet) is pulled again
    // at the next exchange, and stops nothing.
    return report.refused.some(r => (this.theirs.get(r.author) ?? 0) > r.seq) ? 'short' : 'ok'
  }

  /** Starts a PULL for everything the peer holds beyond `from`; undefined when it holds nothing more. */
  #requestBatch (from: ReadonlyMap<string, number>): Promise<JournalResponse> | undefined {
    const ranges: Vector = []
    for (const [author, seq] of this.theirs) {
      const have = from.get(author) ?? 0
      if (seq > have) ranges.push([author, have])
    }
    if (ranges.length === 0) return undefined
    const { batchOps, batchBytes } = this.#o.settings
    const reply = this.#exchange({ type: JournalMsg.Pull, maxOps: batchOps, maxBytes: batchBytes, ranges }, JournalMsg.Ops)
    // The pull awaits it only once the batch before it is applied: a failure meanwhile (a stream
    // cut mid-pull) is seen there, not reported as an unhandled rejection.
    reply.catch(() => {})
    return reply
  }

  async #exchange (req: JournalRequest, expected: JournalMsg): Promise<JournalResponse> {
    const s = this.#o.settings
    const { signal, clear } = combineSignals([this.#o.shutdown], s.requestTimeoutMs)
    try {
      this.#framed ??= new FramedStream(await this.#o.openStream(this.id, { signal }), s.maxFrameBytes)
      const framed = this.#framed
      await framed.write(encodeJournalRequest(req), signal)
      const frame = await framed.read(signal)
      if (frame == null) throw frameError('unexpected', 'the peer closed the journal stream without replying')
      return decodeJournalResponse(frame.subarray(), expected, s)
    } catch (err) {
      this.#closeStream(err as Error)
      throw err
    } finally {
      clear()
    }
  }

  #failed (err: unknown): void {
    this.#backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, this.#backoffMs * 2))
    this.#retryAtMs = Date.now() + this.#backoffMs
    if (this.#o.shutdown.aborted) return
    if (err instanceof ProtocolError) this.#o.log.error('journal exchange with peer %s failed (%s); retrying in %d ms', this.#o.describe(this.id), (err as Error).message, this.#backoffMs)
    else this.#o.log('journal exchange with peer %s failed (%s); retrying in %d ms', this.#o.describe(this.id), (err as Error)?.message, this.#backoffMs)
    // The peer may have missed pushes: reconcile by vectors once it answers again.
    this.wantVector = true
  }

  #scheduleIdleClose (): void {
    if (this.#framed == null || this.#idleTimer != null) return
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined
      if (this.#running == null) this.#closeStream()
    }, this.#o.settings.idleMs)
    this.#idleTimer.unref?.()
  }

  #closeStream (err?: Error): void {
    if (this.#idleTimer != null) { clearTimeout(this.#idleTimer); this.#idleTimer = undefined }
    const framed = this.#framed
    this.#framed = undefined
    if (framed == null) return
    if (err != null) framed.stream.abort(err)
    else void framed.stream.close().catch(() => {})
  }
}
