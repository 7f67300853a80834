/**
 * Client side of `/palm/fragment/1.0.0` (used by placement and repair). One stream carries a
 * sequence of request/reply exchanges; each exchange has its own deadline (`requestTimeoutMs`).
 * Many small fragments travel in one PUT frame; putMany runs `putConcurrency` streams at once.
 * Every reply is checked: fetched bytes must match their CID. Calls for this device's own id go to
 * the local store.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { AbortedError, InvalidArgumentError, NotConnectedError, ProtocolError, TimeoutError, isPalmError } from '../../errors.js'
import { combineSignals, throwIfAborted, type AbortOptions } from '../../util/abort.js'
import { markHashed, matchesCidAsync } from '../../util/cid.js'
import { FRAGMENT_PROTOCOL, FRAME_OVERHEAD_BYTES } from '../constants.js'
import { FramedStream, frameError } from './frames.js'
import { MsgType } from './fragment-messages.js'
import { Session, SessionPool, isLost, type SessionOwner } from './session-pool.js'
import { resultError, packBatches } from './fragment-batches.js'
import type { FragmentStore } from '../../store/types.js'
import type { FragmentClient, FragmentItem, PeerRef, ProtocolCounters, PutOptions, PutOutcome } from '../types.js'
import type { Logger, PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface FragmentClientInit {
  requestTimeoutMs: number
  dialTimeoutMs: number
  maxFragmentBytes: number
  batchBytes: number
  maxBatchCount: number
  putConcurrency: number
  /** Fragment streams a peer's server accepts per connection: this client opens no more to one peer. */
  maxInboundStreams: number
}

export interface FragmentClientComponents {
  peerId: PeerId
  /** `force`: a new connection even when one exists (the one there is going away). */
  dialProtocol: (peer: PeerId, protocol: string, options: AbortOptions & { force?: boolean }) => Promise<Stream>
  /** This device's store, for calls addressed to itself. */
  store: FragmentStore
  /** "name (id)" for messages. */
  describePeer: (id: string) => string
  counters: ProtocolCounters
  shutdown: AbortSignal
  /** Where a retried request is said (an event, not an error). */
  log?: Logger
}

/** Parsed peer ids kept (by the string given) before the cache starts over. */
const MAX_PARSED_IDS = 4096

/**
 * Peer ids by the strings callers name devices with (placement passes strings): parsing one and
 * printing it again for the session pool costs ~8 µs, a twentieth of a small put's round trip.
 * PeerIds are immutable, so sharing them is safe.
 */
const parsedIds = new Map<string, PeerId>()

function toPeerId (peer: PeerRef): PeerId {
  if (typeof peer !== 'string') return peer
  let id = parsedIds.get(peer)
  if (id != null) return id
  try {
    id = peerIdFromString(peer)
  } catch (err) {
    throw new InvalidArgumentError(`"${peer}" is not a peer id; take ids from \`palm peers\``, { cause: err })
  }
  if (parsedIds.size >= MAX_PARSED_IDS) parsedIds.clear()
  parsedIds.set(peer, id)
  return id
}

/** Flushes the stored ones of `outcomes` in `store`; a failed flush fails them (in place). */
async function flushStored (store: Pick<FragmentStore, 'sync'>, outcomes: PutOutcome[], options: AbortOptions): Promise<void> {
  const stored = outcomes.filter(o => o.ok)
  if (stored.length === 0) return
  try {
    await store.sync(stored.map(o => o.cid), options)
  } catch (error) {
    throwIfAborted(options.signal, 'fragment sync')
    outcomes.forEach((o, i) => { if (o.ok) outcomes[i] = { cid: o.cid, ok: false, error: error as Error } })
  }
}

const LOST = new Set(['StreamResetError', 'StreamClosedError', 'ConnectionClosedError', 'StreamStateError', 'UnexpectedEOFError', 'StreamAbortedError'])

export class FragmentClientImpl implements FragmentClient, SessionOwner {
  readonly init: FragmentClientInit
  readonly #c: FragmentClientComponents
  readonly #pool: SessionPool

  constructor (init: FragmentClientInit, components: FragmentClientComponents) {
    this.init = init
    this.#c = components
    this.#pool = new SessionPool({ maxOpenPerPeer: init.maxInboundStreams, idleMs: Math.min(5_000, Math.floor(init.requestTimeoutMs / 2)) }, async (peer, what, options, force) => await this.#open(peer, what, options, force))
  }

  get shutdown (): AbortSignal { return this.#c.shutdown }
  get limits (): FragmentClientInit { return this.init }

  /** Closes idle sessions (node stop). */
  close (): void { this.#pool.closeAll() }

  /** Turns any failure into a PalmError that names the peer and the operation. */
  mapError (err: unknown, peer: string, what: string, userSignal?: AbortSignal): Error {
    if (userSignal?.aborted === true) return new AbortedError(`${what} on peer ${peer} was cancelled`, { cause: err })
    if (isPalmError(err) && !['TimeoutError', 'ProtocolError', 'AbortedError'].includes(err.name)) return err
    if (this.#c.shutdown.aborted) return new AbortedError(`${what} on peer ${peer} was cancelled: the node is stopping`, { cause: err })
    if (isPalmError(err) && err.name === 'TimeoutError') {
      return new TimeoutError(`peer ${peer} did not answer ${what} within ${this.init.requestTimeoutMs} ms; it may be overloaded or gone`, { cause: err, details: { peer } })
    }
    if (isPalmError(err) && err.name === 'ProtocolError') {
      this.#c.counters[(err.details.fault as 'malformed' | 'unexpected' | 'oversized') ?? 'errors']++
      return new ProtocolError(`peer ${peer} broke the fragment protocol during ${what}: ${err.message}`, { cause: err, details: { peer } })
    }
    if (isPalmError(err)) return err
    if (LOST.has((err as Error)?.name)) {
      return new NotConnectedError(`lost the connection to peer ${peer} during ${what}; it may have restarted or left`, { cause: err, details: { peer, lost: true } })
    }
    return new NotConnectedError(`cannot reach peer ${peer} for ${what} (${(err as Error)?.message}); is it online?`, { cause: err, details: { peer } })
  }

  #isSelf (id: PeerId): boolean {
    return id.equals(this.#c.peerId)
  }

  async #open (id: PeerId, what: string, options: AbortOptions, force = false): Promise<Session> {
    const describe = this.#c.describePeer(id.toString())
    throwIfAborted(options.signal, what)
    const { signal, clear } = combineSignals([options.signal, this.#c.shutdown], this.init.dialTimeoutMs)
    try {
      const stream = await this.#c.dialProtocol(id, FRAGMENT_PROTOCOL, force ? { signal, force } : { signal })
      return new Session(new FramedStream(stream, this.init.maxFragmentBytes + FRAME_OVERHEAD_BYTES), id.toString(), describe, this)
    } catch (err) {
      throw this.mapError(err, describe, what, options.signal)
    } finally {
      clear()
    }
  }

  /**
   * Runs `fn` on a pooled session to `peer` and returns the session to the pool. A request whose
   * stream broke under it with NotConnectedError (a pooled stream the peer had closed meanwhile, a
   * stream reset, its connection lost or aborted) is sent once more, on a stream of its own: every
   * request is idempotent. An open that meets a connection going away (its muxer closed, libp2p
   * not done with it yet) is made once more on a new connection. A device that is really gone fails
   * that dial, so a read moves on to other devices after one attempt more. The pool opens at most
   * `maxInboundStreams` sessions to one peer (its server resets streams past that); the rest wait.
   */
  async #with<T>(peer: PeerRef, what: string, options: AbortOptions, fn: (s: Session) => Promise<T>): Promise<T> {
    const id = toPeerId(peer)
    let retried = false
    let redialled = false
    while (true) {
      let session: Session
      try {
        session = await this.#pool.acquire(id, what, { ...options, fresh: retried || redialled, force: redialled })
      } catch (err) {
        if (!redialled && isLost(err)) { redialled = true; continue }
        throw err
      }
      try {
        const result = await fn(session)
        this.#pool.release(session)
        return result
      } catch (err) {
        if (session.broken && !retried && (err as Error).name === 'NotConnectedError') {
          retried = true
          this.#c.log?.('%s on peer %s broke (%s); sending it once more on a new stream', what, session.describe, (err as Error).message)
          continue
        }
        this.#pool.release(session)
        throw err
      }
    }
  }

  async put (peer: PeerRef, cid: CID, bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
    const [outcome] = await this.putMany(peer, [{ cid, bytes }], options)
    if (!outcome.ok) throw outcome.error
  }

  async putMany (peer: PeerRef, items: FragmentItem[], options: PutOptions = {}): Promise<PutOutcome[]> {
    const id = toPeerId(peer)
    const outcomes: Array<PutOutcome | undefined> = new Array(items.length)
    if (this.#isSelf(id)) {
      for (let i = 0; i < items.length; i++) {
        throwIfAborted(options.signal, 'fragment put')
        const { cid, bytes } = items[i]
        outcomes[i] = await this.#c.store.put(cid, bytes, options).then(() => ({ cid, ok: true as const }), (error: Error) => ({ cid, ok: false as const, error }))
      }
      if (options.sync === true) await flushStored(this.#c.store, outcomes as PutOutcome[], options)
      return outcomes as PutOutcome[]
    }
    const describe = this.#c.describePeer(id.toString())
    const { batches, rejected } = packBatches(items, this.init)
    for (const [i, error] of rejected) outcomes[i] = { cid: items[i].cid, ok: false, error }
    let next = 0
    let fatal: Error | undefined
    const worker = async (): Promise<void> => {
      while (fatal == null && next < batches.length) {
        const batch = batches[next++]
        try {
          const put = { req: { type: MsgType.Put, items: batch.map(i => items[i]) }, expected: MsgType.PutRes }
          const sync = { req: { type: MsgType.Sync, cids: batch.map(i => items[i].cid) }, expected: MsgType.SyncRes }
          const [res, synced] = await this.#with(id, 'fragment put', options, async (s) => await s.pipeline(options.sync === true ? [put, sync] : [put], 'fragment put', options))
          if (res.type !== MsgType.PutRes || res.results.length !== batch.length) {
            throw this.mapError(frameError('malformed', 'put reply does not match the request'), describe, 'fragment put')
          }
          // Stored but not flushed is a failure for a caller that asked for both.
          const flushError = synced != null && (!('result' in synced) || synced.result.status !== 0)
            ? resultError('result' in synced ? synced.result : undefined, items[batch[0]].cid, describe, 'sync')
            : undefined
          batch.forEach((idx, j) => {
            const r = res.results[j]
            outcomes[idx] = r.status !== 0
              ? { cid: items[idx].cid, ok: false, error: resultError(r, items[idx].cid, describe, 'put') }
              : flushError != null ? { cid: items[idx].cid, ok: false, error: flushError } : { cid: items[idx].cid, ok: true }
          })
        } catch (err) {
          fatal ??= err as Error
          for (const idx of batch) outcomes[idx] = { cid: items[idx].cid, ok: false, error: err as Error }
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.init.putConcurrency, batches.length) }, async () => { await worker() }))
    throwIfAborted(options.signal, `fragment put on peer ${describe}`)
    return items.map((it, i) => outcomes[i] ?? { cid: it.cid, ok: false, error: fatal ?? new AbortedError(`fragment put on peer ${describe} did not run`) })
  }

  async get (peer: PeerRef, cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    const id = toPeerId(peer)
    if (this.#isSelf(id)) return await this.#c.store.get(cid, options)
    return await this.#with(id, 'fragment get', options, async (s) => {
      const res = await s.exchange({ type: MsgType.Get, cid }, MsgType.GetRes, 'fragment get', options)
      if (res.type !== MsgType.GetRes || res.result.status !== 0) throw resultError('result' in res ? res.result : undefined, cid, s.describe, 'get')
      if (!await matchesCidAsync(cid, res.bytes)) {
        throw resultError({ status: 2, reason: 'the bytes it sent do not match the CID' }, cid, s.describe, 'get')
      }
      markHashed(res.bytes, cid)
      return res.bytes
    })
  }

  async has (peer: PeerRef, cids: CID[], options: AbortOptions = {}): Promise<boolean[]> {
    const id = toPeerId(peer)
    if (this.#isSelf(id)) return await Promise.all(cids.map(async c => await this.#c.store.has(c, options)))
    if (cids.length === 0) return []
    return await this.#with(id, 'fragment has', options, async (s) => {
      const out: boolean[] = []
      for (let i = 0; i < cids.length; i += this.init.maxBatchCount) {
        const chunk = cids.slice(i, i + this.init.maxBatchCount)
        const res = await s.exchange({ type: MsgType.Has, cids: chunk }, MsgType.HasRes, 'fragment has', options)
        if (res.type !== MsgType.HasRes || res.present.length !== chunk.length) throw resultError('result' in res ? res.result : undefined, chunk[0], s.describe, 'has')
        out.push(...res.present)
      }
      return out
    })
  }

  async delete (peer: PeerRef, cids: CID[], options: AbortOptions = {}): Promise<void> {
    await this.#batchedStatus(peer, cids, MsgType.Delete, MsgType.DeleteRes, 'delete', options)
  }

  async sync (peer: PeerRef, cids?: CID[], options: AbortOptions = {}): Promise<void> {
    await this.#batchedStatus(peer, cids ?? [], MsgType.Sync, MsgType.SyncRes, 'sync', options, cids == null)
  }

  async #batchedStatus (peer: PeerRef, cids: CID[], type: typeof MsgType.Delete | typeof MsgType.Sync, expected: MsgType, verb: 'delete' | 'sync', options: AbortOptions, all = false): Promise<void> {
    const id = toPeerId(peer)
    if (this.#isSelf(id)) {
      if (verb === 'sync') { await this.#c.store.sync(all ? undefined : cids, options); return }
      for (const c of cids) await this.#c.store.delete(c, options)
      return
    }
    if (cids.length === 0 && !all) return
    await this.#with(id, `fragment ${verb}`, options, async (s) => {
      for (let i = 0; i < Math.max(cids.length, 1); i += this.init.maxBatchCount) {
        const chunk = cids.slice(i, i + this.init.maxBatchCount)
        const res = await s.exchange({ type, cids: chunk }, expected, `fragment ${verb}`, options)
        if (!('result' in res) || res.result.status !== 0) throw resultError('result' in res ? res.result : undefined, chunk[0], s.describe, verb)
      }
    })
  }
}
