/**
 * Server side of `/palm/fragment/1.0.0`: serves this device's FragmentStore to the swarm.
 * Requests on one stream are handled one at a time (the next frame is read only after the reply
 * is written), so a stream holds at most one frame in memory; `maxInboundStreams` bounds streams
 * per connection. Every fragment is hash-checked before it reaches the store. A DELETE is never
 * honoured because a peer asked: only for fragments `mayDelete` clears (the daemon: those its own
 * journal no longer references), and refused (status Refused, nothing deleted) for the whole
 * request otherwise, or always when no `mayDelete` is given. Anything malformed,
 * oversized or unexpected resets the stream, is logged and counted, and never escapes the handler.
 */
import { IntegrityError } from '../../errors.js'
import type { AbortOptions } from '../../util/abort.js'
import { markHashed, matchesCidAsync } from '../../util/cid.js'
import { FRAGMENT_PROTOCOL, FRAGMENT_WIRE_VERSION, FRAME_OVERHEAD_BYTES } from '../constants.js'
import { serveFrames } from './serve-frames.js'
import type { FrameBudget } from './frame-budget.js'
import { MsgType, Status, decodeRequest, encodeResponse, frameVersion, type Request, type Response, type Result } from './fragment-messages.js'
import type { FragmentStore } from '../../store/types.js'
import type { ProtocolCounters } from '../types.js'
import type { ComponentLogger, Connection, Logger, Stream, StreamHandler } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface FragmentServerInit {
  maxFragmentBytes: number
  maxBatchCount: number
  /** Each request (read of the frame, store work, reply) must finish within this, ms. */
  requestTimeoutMs: number
  maxInboundStreams: number
}

export interface FragmentServerComponents {
  store: FragmentStore
  logger: ComponentLogger
  registrar: { handle: (protocol: string, handler: StreamHandler, options?: { maxInboundStreams?: number, maxOutboundStreams?: number }) => Promise<void> }
  counters: ProtocolCounters
  /** Aborts in-flight requests at stop. */
  shutdown: AbortSignal
  /**
   * Whether a peer's DELETE of these fragments may be carried out: the CIDs it must refuse (empty:
   * all may go). Absent: every DELETE is refused.
   */
  mayDelete?: (cids: CID[], peer: string, options: AbortOptions) => Promise<CID[]>
  /** Memory budget for request frames in flight (per peer and in total). */
  budget?: FrameBudget
}

/** The status a store error stands for. */
export function statusOf (err: unknown): Status {
  switch ((err as Error)?.name) {
    case 'NotFoundError': return Status.NotFound
    case 'IntegrityError': return Status.Integrity
    case 'QuotaExceededError': return Status.Quota
    case 'NoSpaceError': return Status.NoSpace
    default: return Status.Internal
  }
}

function failure (err: unknown): Result {
  return { status: statusOf(err), reason: (err as Error)?.message ?? String(err) }
}

const OK: Result = { status: Status.Ok, reason: '' }

export class FragmentServer {
  readonly #init: FragmentServerInit
  readonly #c: FragmentServerComponents
  readonly #log: Logger

  constructor (init: FragmentServerInit, components: FragmentServerComponents) {
    this.#init = init
    this.#c = components
    this.#log = components.logger.forComponent('palm:net:fragment-server')
  }

  async start (): Promise<void> {
    await this.#c.registrar.handle(FRAGMENT_PROTOCOL, (stream, connection) => {
      void this.#serve(stream, connection)
    }, { maxInboundStreams: this.#init.maxInboundStreams, maxOutboundStreams: this.#init.maxInboundStreams * 4 })
  }

  async #serve (stream: Stream, connection: Connection): Promise<void> {
    await serveFrames(stream, connection, {
      protocol: 'fragment',
      maxFrameBytes: this.#init.maxFragmentBytes + FRAME_OVERHEAD_BYTES,
      requestTimeoutMs: this.#init.requestTimeoutMs,
      shutdown: this.#c.shutdown,
      counters: this.#c.counters,
      log: this.#log,
      ...(this.#c.budget != null ? { budget: this.#c.budget } : {})
    }, async (bytes, peer, signal) => {
      if (frameVersion(bytes) !== FRAGMENT_WIRE_VERSION) {
        this.#c.counters.unexpected++
        this.#log.error('peer %s sent fragment frame version %s; answering unsupported', peer, frameVersion(bytes))
        return { reply: encodeResponse({ type: MsgType.Error, result: { status: Status.Unsupported, reason: `wire version ${FRAGMENT_WIRE_VERSION} only` } }), last: true }
      }
      return { reply: encodeResponse(await this.#handle(decodeRequest(bytes, this.#init), peer, { signal })) }
    })
  }

  async #handle (req: Request, peer: string, options: AbortOptions): Promise<Response> {
    const store = this.#c.store
    switch (req.type) {
      case MsgType.Put: {
        const results: Result[] = []
        for (const { cid, bytes } of req.items) results.push(await this.#put(cid, bytes, options))
        return { type: MsgType.PutRes, results }
      }
      case MsgType.Get:
        try {
          return { type: MsgType.GetRes, result: OK, bytes: await store.get(req.cid, options) }
        } catch (err) {
          return { type: MsgType.GetRes, result: failure(err), bytes: new Uint8Array(0) }
        }
      case MsgType.Has: {
        const present: boolean[] = []
        for (const cid of req.cids) present.push(await store.has(cid, options))
        return { type: MsgType.HasRes, present }
      }
      case MsgType.Delete:
        try {
          const kept = this.#c.mayDelete != null ? await this.#c.mayDelete(req.cids, peer, options) : req.cids
          if (kept.length > 0) {
            this.#c.counters.unexpected++
            this.#log.error('peer %s asked to delete %d fragments, %d of which this device still needs (%s): refused', peer, req.cids.length, kept.length, kept[0].toString())
            const reason = this.#c.mayDelete == null
              ? 'this device deletes fragments only by its own garbage collection'
              : `this device's journal still references ${kept.length} of them (${kept[0].toString()}…); fragments are deleted only once no file needs them`
            return { type: MsgType.DeleteRes, result: { status: Status.Refused, reason } }
          }
          for (const cid of req.cids) await store.delete(cid, options)
          return { type: MsgType.DeleteRes, result: OK }
        } catch (err) {
          return { type: MsgType.DeleteRes, result: failure(err) }
        }
      case MsgType.Sync:
        try {
          await store.sync(req.cids.length > 0 ? req.cids : undefined, options)
          return { type: MsgType.SyncRes, result: OK }
        } catch (err) {
          return { type: MsgType.SyncRes, result: failure(err) }
        }
    }
  }

  async #put (cid: CID, bytes: Uint8Array, options: AbortOptions): Promise<Result> {
    // Hashed once, off the event loop; marked so that the store's own check does not hash it again.
    if (!await matchesCidAsync(cid, bytes)) {
      return failure(new IntegrityError(`fragment ${cid.toString()} does not match its content; refused`))
    }
    markHashed(bytes, cid)
    try {
      await this.#c.store.put(cid, bytes, options)
      return OK
    } catch (err) {
      if (options.signal?.aborted === true) throw err
      return failure(err)
    }
  }
}
