/**
 * `/palm/health/1.0.0`: every gossip interval each device pushes its announcement to every
 * connected peer: `frame(JSON announcement)` → `frame(0x01)` ack. The ack gives the pusher a
 * round-trip time. A direct push rather than gossipsub: on one LAN every device is connected to
 * every other, so flooding buys nothing and a push needs no mesh (docs/network.md).
 *
 * One stream per peer carries every push: opening a stream per push (yamux, protocol negotiation,
 * close) cost an idle device most of its CPU. The server answers announcements on a stream until
 * the pusher closes it or stays silent for a few intervals. A device that closes its stream after
 * one push (an older version) is still served, and a push whose reused stream fails is tried once
 * more on a new one.
 */
import { repeatingTask, type RepeatingTask } from '@libp2p/utils'
import { combineSignals, RestartableDeadline, type AbortOptions } from '../../util/abort.js'
import { HEALTH_PROTOCOL, HEALTH_WIRE_VERSION, MAX_HEALTH_MESSAGE_BYTES } from '../constants.js'
import { countFailure } from '../counters.js'
import { FramedStream, faultOf, frameError } from './frames.js'
import { printable } from '../../util/printable.js'
import type { HealthAnnouncement, ProtocolCounters } from '../types.js'
import type { ComponentLogger, Connection, Logger, PeerId, Stream, StreamHandler } from '@libp2p/interface'

const STRING_LIMITS: Record<string, number> = { name: 128, journalHead: 512, version: 64 }
const NUMBER_FIELDS = ['capacityBytes', 'usedBytes', 'freeBytes', 'fragmentCount', 'uptimeMs'] as const
const ACK = Uint8Array.of(1)
/** Largest capacity a device may announce: 1 PiB (2^53−1 was accepted and steered placement). */
export const MAX_ANNOUNCED_CAPACITY_BYTES = 2 ** 50

export function encodeAnnouncement (a: HealthAnnouncement): Uint8Array {
  const msg = {
    v: HEALTH_WIRE_VERSION,
    name: a.name,
    capacityBytes: a.capacityBytes,
    usedBytes: a.usedBytes,
    freeBytes: a.freeBytes,
    fragmentCount: a.fragmentCount,
    journalHead: a.journalHead,
    version: a.version,
    uptimeMs: a.uptimeMs
  }
  return new TextEncoder().encode(JSON.stringify(msg))
}

/**
 * Strict decode: known version, every field present with the right type and range. Then made
 * sane: the name loses control characters (terminal escapes) and bidi overrides, the capacity is
 * at most MAX_ANNOUNCED_CAPACITY_BYTES, and the free space at most what the capacity leaves after
 * the bytes the device says it stores.
 */
export function decodeAnnouncement (bytes: Uint8Array): HealthAnnouncement {
  let msg: unknown
  try {
    msg = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err) {
    throw frameError('malformed', 'health announcement is not UTF-8 JSON', err)
  }
  if (msg == null || typeof msg !== 'object' || Array.isArray(msg)) throw frameError('malformed', 'health announcement is not an object')
  const m = msg as Record<string, unknown>
  if (m.v !== HEALTH_WIRE_VERSION) throw frameError('unexpected', `health announcement version ${String(m.v)}, expected ${HEALTH_WIRE_VERSION}`)
  for (const [k, max] of Object.entries(STRING_LIMITS)) {
    if (typeof m[k] !== 'string' || (m[k] as string).length > max) throw frameError('malformed', `health field ${k} must be a string of at most ${max} characters`)
  }
  for (const k of NUMBER_FIELDS) {
    const n = m[k]
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw frameError('malformed', `health field ${k} must be a non-negative integer`)
  }
  const capacityBytes = Math.min(m.capacityBytes as number, MAX_ANNOUNCED_CAPACITY_BYTES)
  const usedBytes = m.usedBytes as number
  return {
    name: printable(m.name as string),
    capacityBytes,
    usedBytes,
    freeBytes: Math.min(m.freeBytes as number, Math.max(0, capacityBytes - usedBytes)),
    fragmentCount: m.fragmentCount as number,
    journalHead: m.journalHead as string,
    version: m.version as string,
    uptimeMs: m.uptimeMs as number
  }
}

export interface HealthServiceInit {
  intervalMs: number
  /** One push (open, send, ack) must finish within this, ms. */
  timeoutMs: number
}

export interface HealthServiceComponents {
  registrar: { handle: (protocol: string, handler: StreamHandler, options?: { maxInboundStreams?: number }) => Promise<void> }
  dialProtocol: (peer: PeerId, protocol: string, options: AbortOptions) => Promise<Stream>
  connectedPeers: () => PeerId[]
  announcement: () => HealthAnnouncement
  onAnnouncement: (peer: string, a: HealthAnnouncement) => void
  onRtt: (peer: string, rttMs: number) => void
  counters: ProtocolCounters
  logger: ComponentLogger
  shutdown: AbortSignal
}

export class HealthService {
  readonly #init: HealthServiceInit
  readonly #c: HealthServiceComponents
  readonly #log: Logger
  readonly #task: RepeatingTask
  readonly #inFlight = new Set<string>()
  /** Each peer's push stream, kept open for the next push. */
  readonly #streams = new Map<string, FramedStream>()

  constructor (init: HealthServiceInit, components: HealthServiceComponents) {
    this.#init = init
    this.#c = components
    this.#log = components.logger.forComponent('palm:net:health')
    this.#task = repeatingTask(() => { this.pushAll() }, init.intervalMs, { runImmediately: true })
  }

  async start (): Promise<void> {
    await this.#c.registrar.handle(HEALTH_PROTOCOL, (stream, connection) => { void this.#serve(stream, connection) }, { maxInboundStreams: 4 })
    this.#task.start()
  }

  stop (): void {
    this.#task.stop()
    for (const framed of this.#streams.values()) void framed.stream.close().catch(() => {})
    this.#streams.clear()
  }

  /** Drops the stream kept for `peer` (it disconnected, or the stream ended). */
  forget (peer: string): void {
    const framed = this.#streams.get(peer)
    this.#streams.delete(peer)
    if (framed != null) void framed.stream.close().catch(() => {})
  }

  /** A stream the server answers on may stay silent this long between announcements, ms. */
  get #idleMs (): number {
    return 3 * this.#init.intervalMs + this.#init.timeoutMs
  }

  /**
   * Starts a push to every connected peer that has none in flight, without waiting: one slow peer
   * must not delay the announcements to the others. Failures are logged, never thrown.
   */
  pushAll (): void {
    for (const peer of this.#c.connectedPeers()) void this.push(peer)
  }

  /** Pushes this device's announcement to `peer` (unless a push to it is in flight); resolves false on failure. */
  async push (peer: PeerId): Promise<boolean> {
    const id = peer.toString()
    if (this.#inFlight.has(id)) return false
    this.#inFlight.add(id)
    try {
      return await this.#push(peer)
    } finally {
      this.#inFlight.delete(id)
    }
  }

  async #push (peer: PeerId): Promise<boolean> {
    const id = peer.toString()
    let kept = this.#streams.get(id)
    if (kept != null && (kept.stream.status !== 'open' || kept.stream.remoteWriteStatus !== 'writable')) {
      // Ended since: an older device closes its stream after one push; a connection was replaced.
      this.forget(id)
      kept = undefined
    }
    // A kept stream that fails now (its connection just went): once more, on a new stream.
    if (kept != null && await this.#exchange(peer, kept)) return true
    const { signal, clear } = combineSignals([this.#c.shutdown], this.#init.timeoutMs)
    let framed: FramedStream
    try {
      framed = new FramedStream(await this.#c.dialProtocol(peer, HEALTH_PROTOCOL, { signal }), MAX_HEALTH_MESSAGE_BYTES)
    } catch (err) {
      if (!this.#c.shutdown.aborted) this.#log.trace('health push to %p failed - %s', peer, (err as Error)?.message)
      return false
    } finally {
      clear()
    }
    this.#streams.set(id, framed)
    return await this.#exchange(peer, framed)
  }

  /** One announcement and its ack on `framed`; a failure drops the stream. */
  async #exchange (peer: PeerId, framed: FramedStream): Promise<boolean> {
    const { signal, clear } = combineSignals([this.#c.shutdown], this.#init.timeoutMs)
    try {
      const t0 = performance.now()
      await framed.write(encodeAnnouncement(this.#c.announcement()), signal)
      const ack = await framed.read(signal)
      if (ack == null) throw frameError('unexpected', 'the peer closed the health stream')
      if (ack.byteLength !== 1 || ack.get(0) !== 1) throw frameError('unexpected', 'health push was not acknowledged')
      this.#c.onRtt(peer.toString(), performance.now() - t0)
      return true
    } catch (err) {
      const id = peer.toString()
      if (this.#streams.get(id) === framed) this.#streams.delete(id)
      if (!this.#c.shutdown.aborted) this.#log.trace('health push to %p failed - %s', peer, (err as Error)?.message)
      framed.stream.abort(err as Error)
      return false
    } finally {
      clear()
    }
  }

  async #serve (stream: Stream, connection: Connection): Promise<void> {
    const counters = this.#c.counters
    counters.streams++
    const peer = connection.remotePeer.toString()
    // The first announcement is due at once (the push timeout); the next ones within a few gossip
    // intervals (each read gets that long).
    const first = combineSignals([], this.#init.timeoutMs)
    const deadline = new RestartableDeadline([this.#c.shutdown, first.signal], this.#idleMs)
    const { signal } = deadline
    let answered = 0
    try {
      const framed = new FramedStream(stream, MAX_HEALTH_MESSAGE_BYTES)
      for (;;) {
        deadline.restart()
        const frame = await framed.read(signal)
        first.clear()
        if (frame == null) {
          if (answered === 0) throw frameError('malformed', 'health stream closed before the announcement')
          break
        }
        const a = decodeAnnouncement(frame.subarray())
        this.#c.onAnnouncement(peer, a)
        await framed.write(ACK, signal)
        counters.requests++
        answered++
      }
      await stream.close({ signal })
    } catch (err) {
      if (answered > 0 && peerWentAway(err) && !this.#c.shutdown.aborted) {
        // The pusher went away (its connection closed, or it fell silent): an end, not an error.
        this.#log.trace('health stream from peer %s ended after %d announcements - %s', peer, answered, (err as Error)?.message)
      } else if (!this.#c.shutdown.aborted) {
        const kind = countFailure(counters, err)
        this.#log.error('health stream from peer %s reset (%s) - %s', peer, kind, (err as Error)?.message)
      }
      stream.abort(err as Error)
    } finally {
      first.clear()
      deadline.clear()
    }
  }
}

/** The stream or its connection ended, or the pusher fell silent: not a protocol fault or a bug. */
function peerWentAway (err: unknown): boolean {
  if (faultOf(err) === 'timeout') return true
  const name = (err as Error)?.name
  return name === 'StreamResetError' || name === 'StreamAbortedError' || name === 'StreamStateError' ||
    name === 'ConnectionClosedError' || name === 'ConnectionClosingError' || name === 'MuxerClosedError'
}
