/**
 * What this device has observed about the others while moving fragments: latency (EWMA, to read
 * from the fastest devices and to know when a reply is late), recent failures (a failing device is
 * left out of placement for a back-off that doubles with each failure), refusals for lack of room,
 * and the bytes sent to each since its last health announcement (announced free space lags).
 */
import { errorCode } from '../errors.js'

/** Settings of the statistics. */
export interface DeviceStatsInit {
  /** Weight of a new sample in the moving averages (0…1). Default 0.25. */
  alpha?: number
  /** First back-off after a failure, ms (doubles per failure in a row). Default 1000. */
  backoffMs?: number
  /** Longest back-off, ms. Default 30000. */
  maxBackoffMs?: number
}

interface Entry {
  /** Caught acknowledging a fragment it did not keep (spot check): never available again this run. */
  distrusted?: boolean
  /** Request latency for small transfers, ms (EWMA). */
  latencyMs?: number
  /** Throughput for large transfers, bytes per ms (EWMA). */
  bytesPerMs?: number
  failures: number
  /** Left out of placement until then (epoch ms). */
  suspectUntilMs: number
  /** Refused a fragment for lack of room at this time (epoch ms). */
  fullAtMs: number
  /** Bytes sent since announcements, in time buckets. */
  sent: Array<{ atMs: number, bytes: number }>
}

/** Transfers at least this large update the throughput average; smaller ones the latency. */
const LARGE_BYTES = 64 * 1024
/** Priors before anything is measured. */
const DEFAULT_LATENCY_MS = 5
const DEFAULT_BYTES_PER_MS = 50_000
/** An announcement reflects what was stored up to a little before it was heard. */
const ANNOUNCE_LAG_MS = 200
const BUCKET_MS = 250

/** Failures that say the device cannot take requests now (not: this one fragment is missing or bad). */
export function isDeviceFailure (err: unknown): boolean {
  const name = (err as Error)?.name
  return name === 'NotConnectedError' || name === 'TimeoutError' || name === 'ProtocolError' || errorCode(err) === 'ETIMEDOUT'
}

/** Refusals for lack of room. */
export function isNoRoom (err: unknown): boolean {
  const name = (err as Error)?.name
  return name === 'QuotaExceededError' || name === 'NoSpaceError' || errorCode(err) === 'ENOSPC' || errorCode(err) === 'EDQUOT'
}

/** Per-device observations; one instance per pool. */
export class DeviceStats {
  readonly #alpha: number
  readonly #backoffMs: number
  readonly #maxBackoffMs: number
  readonly #devices = new Map<string, Entry>()

  constructor (init: DeviceStatsInit = {}) {
    this.#alpha = init.alpha ?? 0.25
    this.#backoffMs = init.backoffMs ?? 1000
    this.#maxBackoffMs = init.maxBackoffMs ?? 30_000
  }

  #entry (id: string): Entry {
    let e = this.#devices.get(id)
    if (e == null) {
      e = { failures: 0, suspectUntilMs: 0, fullAtMs: 0, sent: [] }
      this.#devices.set(id, e)
    }
    return e
  }

  #ewma (old: number | undefined, sample: number): number {
    return old == null ? sample : old + this.#alpha * (sample - old)
  }

  /** A request to `id` moving `bytes` succeeded in `ms`. */
  succeeded (id: string, bytes: number, ms: number): void {
    const e = this.#entry(id)
    e.failures = 0
    e.suspectUntilMs = 0
    if (bytes < LARGE_BYTES) {
      e.latencyMs = this.#ewma(e.latencyMs, Math.max(0.05, ms))
    } else {
      const transferMs = Math.max(0.05, ms - (e.latencyMs ?? DEFAULT_LATENCY_MS))
      e.bytesPerMs = this.#ewma(e.bytesPerMs, bytes / transferMs)
    }
  }

  /** A request to `id` failed with `err`: back off (device failures) or note it is full. */
  failed (id: string, err: unknown, nowMs = Date.now()): void {
    const e = this.#entry(id)
    if (isNoRoom(err)) {
      e.fullAtMs = nowMs
    } else if (isDeviceFailure(err)) {
      e.failures++
      e.suspectUntilMs = nowMs + Math.min(this.#maxBackoffMs, this.#backoffMs * 2 ** (e.failures - 1))
    }
  }

  /** False while `id` is backing off after failures, and for good once it is distrusted. */
  healthy (id: string, nowMs = Date.now()): boolean {
    const e = this.#devices.get(id)
    return e?.distrusted !== true && (e?.suspectUntilMs ?? 0) <= nowMs
  }

  /** `id` acknowledged a fragment it did not keep (the daemon's spot check): placement stops picking it. */
  distrust (id: string): void {
    this.#entry(id).distrusted = true
  }

  /** True when `id` refused a fragment for lack of room after its last announcement (heard at `announcedAtMs`). */
  fullSince (id: string, announcedAtMs: number): boolean {
    return (this.#devices.get(id)?.fullAtMs ?? 0) >= announcedAtMs
  }

  /** The time a request moving `bytes` to or from `id` should take, ms (`rttMs`: the gossip RTT, a prior). */
  expectedMs (id: string, bytes: number, rttMs?: number): number {
    const e = this.#devices.get(id)
    const latency = e?.latencyMs ?? rttMs ?? DEFAULT_LATENCY_MS
    return latency + bytes / (e?.bytesPerMs ?? DEFAULT_BYTES_PER_MS)
  }

  /** Records `bytes` sent to `id` (not yet in its announced free space). */
  sent (id: string, bytes: number, nowMs = Date.now()): void {
    const e = this.#entry(id)
    const last = e.sent[e.sent.length - 1]
    if (last != null && nowMs - last.atMs < BUCKET_MS) last.bytes += bytes
    else e.sent.push({ atMs: nowMs, bytes })
  }

  /** Bytes sent to `id` that its announcement heard at `announcedAtMs` cannot include yet. */
  unannounced (id: string, announcedAtMs: number): number {
    const e = this.#devices.get(id)
    if (e == null) return 0
    const cutoff = announcedAtMs - ANNOUNCE_LAG_MS
    while (e.sent.length > 0 && e.sent[0].atMs < cutoff) e.sent.shift()
    return e.sent.reduce((sum, s) => sum + s.bytes, 0)
  }
}
