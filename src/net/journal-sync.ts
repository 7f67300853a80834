/**
 * Journal replication over `/palm/journal/1.0.0` (docs/network.md, "Journal protocol"): every
 * device keeps the whole journal. Local ops are pushed to every online peer as soon as they are
 * committed; version vectors are exchanged when a peer comes online, when this device's vector
 * changed (checked every `syncIntervalMs`) and every `fullSyncIntervalMs` regardless; a device
 * that learns a peer holds more pulls the missing (author, seq > n) ranges in bounded batches. Ops
 * of third parties travel by pull (A's ops reach C through B). Unsolicited pushes are rate-limited
 * per peer; everything bad is refused, logged with the peer, counted, and never stops the others.
 * net never parses an op's body: the JournalReplica checks and applies.
 */
import { setMaxListeners } from 'node:events'
import { repeatingTask, type RepeatingTask } from '@libp2p/utils'
import type { AbortOptions } from '../util/abort.js'
import { Lifecycle } from '../util/startable.js'
import * as C from './constants.js'
import { createCounters } from './counters.js'
import { serveFrames } from './protocols/serve-frames.js'
import {
  JournalError, JournalMsg, decodeJournalRequest, encodeJournalResponse, journalFrameVersion, wireSize,
  type JournalRequest, type JournalResponse, type Vector
} from './protocols/journal-messages.js'
import { PeerLink, opsAhead, type LinkOwner, type LinkSettings } from './protocols/journal-link.js'
import type { ApplyReport, JournalReplica, JournalStats, JournalSync, JournalSyncInit, WireOp } from './journal-types.js'
import type { PalmNode, PeerState, ProtocolCounters } from './types.js'
import type { ComponentLogger, Connection, Logger, Stream } from '@libp2p/interface'

export interface JournalSyncComponents {
  node: Pick<PalmNode, 'peerId' | 'handle' | 'openStream' | 'membership' | 'addEventListener' | 'removeEventListener'> & Partial<Pick<PalmNode, 'frameBudget'>>
  replica: JournalReplica
  logger: ComponentLogger
}

interface Settings extends LinkSettings {
  syncIntervalMs: number
  fullSyncIntervalMs: number
  maxPushOpsPerSec: number
  maxInboundStreams: number
}

function resolve (init: JournalSyncInit): Settings {
  const requestTimeoutMs = init.requestTimeoutMs ?? C.DEFAULT_REQUEST_TIMEOUT_MS
  const batchOps = init.batchOps ?? C.DEFAULT_JOURNAL_BATCH_OPS
  return {
    syncIntervalMs: init.syncIntervalMs ?? C.DEFAULT_JOURNAL_SYNC_INTERVAL_MS,
    fullSyncIntervalMs: init.fullSyncIntervalMs ?? C.DEFAULT_JOURNAL_FULL_SYNC_INTERVAL_MS,
    batchOps,
    pushGapMs: init.pushGapMs ?? C.DEFAULT_JOURNAL_PUSH_GAP_MS,
    batchBytes: init.batchBytes ?? C.DEFAULT_JOURNAL_BATCH_BYTES,
    maxFrameBytes: init.maxFrameBytes ?? C.DEFAULT_JOURNAL_MAX_FRAME_BYTES,
    maxQueuedOps: init.maxQueuedOps ?? C.DEFAULT_JOURNAL_MAX_QUEUED_OPS,
    maxQueuedBytes: init.maxQueuedBytes ?? C.DEFAULT_JOURNAL_MAX_QUEUED_BYTES,
    maxPushOpsPerSec: init.maxPushOpsPerSec ?? C.DEFAULT_JOURNAL_MAX_PUSH_OPS_PER_SEC,
    requestTimeoutMs,
    maxInboundStreams: init.maxInboundStreams ?? C.DEFAULT_JOURNAL_MAX_INBOUND_STREAMS,
    // The sender may pack up to its own batch size, and ends each run on a seal: accept twice ours and a run.
    maxOps: batchOps * 2 + C.JOURNAL_SEAL_SPACING_OPS,
    maxAuthors: C.MAX_JOURNAL_AUTHORS,
    idleMs: Math.min(10_000, Math.floor(requestTimeoutMs / 2))
  }
}

/** How long a stopping device spends pushing ops that wait for their push gap, ms. */
const STOP_DRAIN_MS = 2_000

/** Batches applied at once: one is checked and merged while the one before it commits. */
const APPLY_DEPTH = 2

/** Refusal reasons that are not the sender's fault (it or we will pull). */
const BENIGN = new Set(['gap', 'late'])

export class JournalSyncImpl extends Lifecycle implements JournalSync, LinkOwner {
  readonly settings: Settings
  readonly replica: JournalReplica
  readonly log: Logger
  readonly selfId: string
  readonly counters: ProtocolCounters = createCounters()
  readonly #c: JournalSyncComponents
  readonly #links = new Map<string, PeerLink>()
  readonly #controller = new AbortController()
  #gen = 0
  /** Apply calls not settled (stop waits for them); how many batches are being applied; the calls waiting for their turn, in order. */
  readonly #applyCalls = new Set<Promise<unknown>>()
  #applyRunning = 0
  readonly #applyWaiting: Array<() => void> = []
  #task?: RepeatingTask
  #unsubscribe?: () => void
  readonly #onOnline = (evt: CustomEvent<PeerState>): void => { this.#link(evt.detail.id).setOnline(true) }
  readonly #onOffline = (evt: CustomEvent<PeerState>): void => { this.#links.get(evt.detail.id)?.setOnline(false) }

  constructor (init: JournalSyncInit, components: JournalSyncComponents) {
    super()
    setMaxListeners(Infinity, this.#controller.signal)
    this.settings = resolve(init)
    this.replica = components.replica
    this.#c = components
    this.log = components.logger.forComponent('palm:net:journal')
    this.selfId = components.node.peerId.toString()
  }

  get shutdown (): AbortSignal { return this.#controller.signal }

  protected async onStart (): Promise<void> {
    const node = this.#c.node
    await node.handle(C.JOURNAL_PROTOCOL, (stream, connection) => { void this.#serve(stream, connection) }, { maxInboundStreams: this.settings.maxInboundStreams })
    this.#unsubscribe = this.replica.onLocalOps((ops) => { this.#localOps(ops) })
    node.addEventListener('peer:online', this.#onOnline)
    node.addEventListener('peer:offline', this.#onOffline)
    for (const p of node.membership.peers()) if (p.online) this.#link(p.id).setOnline(true)
    this.#task = repeatingTask(() => { this.#tick() }, this.settings.syncIntervalMs)
    this.#task.start()
    this.log('journal replication started (%d ops held)', sum(this.replica.versionVector()))
  }

  protected async onStop (): Promise<void> {
    // Local ops not pushed yet (answered but uncommitted, or waiting for their push gap) go out
    // first, briefly: peers cannot pull them from a stopped device.
    const drained = (async () => {
      await this.replica.commitPending?.({ signal: AbortSignal.timeout(STOP_DRAIN_MS) }).catch(() => {})
      await Promise.all([...this.#links.values()].map(async l => { await l.drain().catch(() => {}) }))
    })()
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([drained, new Promise(resolve => { timer = setTimeout(resolve, STOP_DRAIN_MS) })])
    clearTimeout(timer)
    this.#controller.abort()
    this.#task?.stop()
    this.#unsubscribe?.()
    this.#c.node.removeEventListener('peer:online', this.#onOnline)
    this.#c.node.removeEventListener('peer:offline', this.#onOffline)
    for (const link of this.#links.values()) link.close()
    await Promise.all([...this.#links.values()].map(async l => { await l.idle().catch(() => {}) }))
    await Promise.all([...this.#applyCalls].map(async p => { await p.catch(() => {}) }))
  }

  vectorGen (): number { return this.#gen }

  describe (peer: string): string { return this.#c.node.membership.describe(peer) }

  async openStream (peer: string, options: AbortOptions): Promise<Stream> {
    return await this.#c.node.openStream(peer, C.JOURNAL_PROTOCOL, options)
  }

  stats (): JournalStats {
    const ours = this.replica.versionVector()
    const peers = [...this.#links.values()].map(l => ({ ...l.stats, opsBehind: opsAhead(l.theirs, ours), peerLag: l.stats.vectorKnown ? opsAhead(ours, l.theirs) : 0 }))
    return { opsHeld: sum(ours), authors: ours.size, peers, protocol: { ...this.counters } }
  }

  peerVectors (): Map<string, Map<string, number>> {
    const out = new Map<string, Map<string, number>>()
    // As reported, not as grown by what it was seen to take since (PeerLink.reported).
    for (const [id, l] of this.#links) if (l.stats.vectorKnown) out.set(id, new Map(l.reported))
    return out
  }

  #link (id: string): PeerLink {
    let link = this.#links.get(id)
    if (link == null) {
      link = new PeerLink(id, this)
      this.#links.set(id, link)
    }
    return link
  }

  /** Anti-entropy: a vector exchange where ours changed or the full interval passed; retries. */
  #tick (): void {
    const now = Date.now()
    for (const link of this.#links.values()) {
      if (!link.online) continue
      if (link.sentGen !== this.#gen || now - link.lastExchangeMs >= this.settings.fullSyncIntervalMs) link.wantVector = true
      link.kick()
    }
  }

  #localOps (ops: WireOp[]): void {
    this.#gen++
    for (const link of this.#links.values()) link.enqueue(ops)
  }

  /**
   * Applies received ops: batches start in the order they came, at most APPLY_DEPTH at once, so
   * the next batch is decoded and checked while the one before it commits. The replica checks each
   * batch against the held and in-flight ops when it starts (a batch of another peer overlapping
   * one in flight counts as duplicates), and meta merges batches in the order they started.
   */
  async apply (link: PeerLink, ops: WireOp[], options: AbortOptions): Promise<ApplyReport> {
    const call = this.#apply(link, ops, options)
    this.#applyCalls.add(call)
    try {
      return await call
    } finally {
      this.#applyCalls.delete(call)
    }
  }

  async #apply (link: PeerLink, ops: WireOp[], options: AbortOptions): Promise<ApplyReport> {
    // A waiting call is woken with the slot of the call that ended (so no newer call takes it first).
    if (this.#applyRunning >= APPLY_DEPTH || this.#applyWaiting.length > 0) await new Promise<void>((resolve) => { this.#applyWaiting.push(resolve) })
    else this.#applyRunning++
    let report: ApplyReport
    try {
      report = await this.replica.applyOps(ops, link.id, options)
    } catch (err) {
      // The replica promises never to throw; if it does, nothing of the batch counts as applied.
      this.log.error('applying %d ops from peer %s failed - %e', ops.length, this.describe(link.id), err)
      report = { applied: 0, duplicates: 0, refused: ops.map(o => ({ author: o.author, seq: o.seq, reason: 'internal' })) }
    } finally {
      const next = this.#applyWaiting.shift()
      if (next != null) next()
      else this.#applyRunning--
    }
    const s = link.stats
    s.opsReceived += ops.length
    s.opsApplied += report.applied
    s.opsDuplicate += report.duplicates
    s.opsRefused += report.refused.length
    if (report.applied > 0) this.#gen++
    const bad = report.refused.filter(r => !BENIGN.has(r.reason))
    if (bad.length > 0) {
      this.log.error('refused %d of %d journal ops from peer %s: %s (op %d@%s)', bad.length, ops.length, this.describe(link.id), bad[0].reason, bad[0].seq, bad[0].author)
    }
    return report
  }

  async #serve (stream: Stream, connection: Connection): Promise<void> {
    await serveFrames(stream, connection, {
      protocol: 'journal',
      maxFrameBytes: this.settings.maxFrameBytes,
      requestTimeoutMs: this.settings.requestTimeoutMs,
      shutdown: this.shutdown,
      counters: this.counters,
      log: this.log,
      describe: (peer) => this.describe(peer),
      ...(this.#c.node.frameBudget != null ? { budget: this.#c.node.frameBudget } : {})
    }, async (bytes, peer, signal) => {
      if (journalFrameVersion(bytes) !== C.JOURNAL_WIRE_VERSION) {
        this.counters.unexpected++
        this.log.error('peer %s sent journal frame version %d; answering unsupported', this.describe(peer), journalFrameVersion(bytes))
        return { reply: encodeJournalResponse({ type: JournalMsg.Error, code: JournalError.Unsupported, reason: `journal wire version ${C.JOURNAL_WIRE_VERSION} only` }), last: true }
      }
      return { reply: encodeJournalResponse(await this.#handle(decodeJournalRequest(bytes, this.settings), this.#link(peer), { signal })) }
    })
  }

  async #handle (req: JournalRequest, link: PeerLink, options: AbortOptions): Promise<JournalResponse> {
    switch (req.type) {
      case JournalMsg.Vector: {
        link.learn(req.vector)
        // The peer now knows our vector: our own timer need not send it again.
        link.sentGen = this.#gen
        link.lastExchangeMs = Date.now()
        if (link.ahead()) { link.wantPull = true; link.kick() }
        return { type: JournalMsg.VectorRes, vector: [...this.replica.versionVector()] }
      }
      case JournalMsg.Pull:
        return await this.#servePull(req, link, options)
      case JournalMsg.Push:
        return await this.#servePush(req.ops, link, options)
    }
  }

  async #servePull (req: Extract<JournalRequest, { type: typeof JournalMsg.Pull }>, link: PeerLink, options: AbortOptions): Promise<JournalResponse> {
    const ours = this.replica.versionVector()
    let opsLeft = Math.max(1, Math.min(req.maxOps, this.settings.batchOps))
    let bytesLeft = Math.max(1, Math.min(req.maxBytes, this.settings.batchBytes))
    const ops: WireOp[] = []
    let more = false
    for (const [author, after] of req.ranges) {
      link.holds(author, after)
      const have = ours.get(author) ?? 0
      if (have <= after) continue
      if (opsLeft <= 0 || bytesLeft <= 0) { more = true; continue }
      const got = await this.replica.readOps(author, after, opsLeft, bytesLeft, options)
      for (const o of got) { ops.push(o); bytesLeft -= wireSize(o) }
      opsLeft -= got.length
      if (got.length === 0 || got[got.length - 1].seq < have) more = true
    }
    return { type: JournalMsg.Ops, more, vector: [...ours] as Vector, ops }
  }

  async #servePush (ops: WireOp[], link: PeerLink, options: AbortOptions): Promise<JournalResponse> {
    // Token bucket: pushes are unsolicited, so a peer may not make this device apply faster than
    // maxPushOpsPerSec; what is refused is pulled later at this device's own pace.
    const rate = this.settings.maxPushOpsPerSec
    const now = Date.now()
    link.tokens = Math.min(rate, link.tokens + (now - link.tokensAtMs) * rate / 1000)
    link.tokensAtMs = now
    if (ops.length > link.tokens) {
      link.stats.floodRefusals++
      if (now - link.lastFloodLogMs > 10_000) {
        link.lastFloodLogMs = now
        this.log.error('peer %s pushes journal ops faster than %d ops/s; refusing its pushes for now and pulling from it instead', this.describe(link.id), rate)
      }
      link.wantPull = true
      return { type: JournalMsg.Error, code: JournalError.Busy, reason: `more than ${rate} pushed ops/s` }
    }
    link.tokens -= ops.length
    const report = await this.apply(link, ops, options)
    if (report.refused.some(r => r.reason === 'gap')) {
      // It holds ops we lack before these: pull them.
      for (const o of ops) link.holds(o.author, o.seq)
      link.wantPull = true
      link.kick()
    }
    return { type: JournalMsg.PushRes, applied: report.applied, duplicates: report.duplicates, refused: report.refused.length }
  }
}

function sum (v: ReadonlyMap<string, number>): number {
  let n = 0
  for (const s of v.values()) n += s
  return n
}
