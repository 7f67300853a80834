/**
 * Capacity accounting of one store, in memory so that `usage()` is synchronous: bytes and count of
 * stored fragments, bytes reserved by puts in progress (so parallel puts cannot overshoot), and a
 * cached reading of the disk's free space (refreshed in the background, at most once per
 * DISK_FREE_REFRESH_MS).
 */
import { QuotaExceededError } from '../errors.js'
import { diskFreeBytes } from '../util/disk-free.js'
import type { Logger } from '../util/logger.js'
import { DISK_FREE_REFRESH_MS } from './constants.js'
import type { StoreUsage } from './types.js'

/** Capacity, usage and reservations of one store, in bytes. */
export class Quota {
  capacityBytes: number
  #usedBytes = 0
  #count = 0
  #reservedBytes = 0
  #diskFreeBytes = Number.MAX_SAFE_INTEGER
  #diskCheckedAt = 0
  #refreshing = false
  readonly #path: string
  readonly #log: Logger

  /** `path` is any directory on the store's disk (for statfs). */
  constructor (path: string, capacityBytes: number, log: Logger) {
    this.#path = path
    this.capacityBytes = capacityBytes
    this.#log = log
  }

  get usedBytes (): number { return this.#usedBytes }
  get count (): number { return this.#count }

  /** Claims room for a put of `bytes`; QuotaExceededError (naming the fragment) when it would not fit. */
  reserve (bytes: number, cidText: string): void {
    if (this.#usedBytes + this.#reservedBytes + bytes > this.capacityBytes) {
      throw new QuotaExceededError(
        `storing fragment ${cidText} (${bytes} bytes) would exceed this device's capacity of ${this.capacityBytes} bytes ` +
        `(${this.#usedBytes} used); raise it with \`palm init --capacity\` or free space`,
        { details: { cid: cidText, capacityBytes: this.capacityBytes, usedBytes: this.#usedBytes } })
    }
    this.#reservedBytes += bytes
  }

  /** The reserved put finished: `bytes` now count as stored. */
  commit (bytes: number): void {
    this.#reservedBytes -= bytes
    this.add(bytes)
  }

  /** The reserved put failed: give the room back. */
  release (bytes: number): void {
    this.#reservedBytes -= bytes
  }

  /** A fragment of `bytes` is stored (start-up scan, commit). */
  add (bytes: number): void {
    this.#usedBytes += bytes
    this.#count++
    this.#maybeRefresh()
  }

  /** A fragment of `bytes` is gone (delete, quarantine). */
  remove (bytes: number): void {
    this.#usedBytes = Math.max(0, this.#usedBytes - bytes)
    this.#count = Math.max(0, this.#count - 1)
    this.#maybeRefresh()
  }

  usage (): StoreUsage {
    this.#maybeRefresh()
    const byCapacity = Math.max(0, this.capacityBytes - this.#usedBytes - this.#reservedBytes)
    return {
      capacityBytes: this.capacityBytes,
      usedBytes: this.#usedBytes,
      freeBytes: Math.min(byCapacity, this.#diskFreeBytes),
      fragmentCount: this.#count
    }
  }

  /** Reads the disk's free space now. */
  async refresh (): Promise<number> {
    this.#diskFreeBytes = await diskFreeBytes(this.#path)
    this.#diskCheckedAt = Date.now()
    return this.#diskFreeBytes
  }

  #maybeRefresh (): void {
    if (this.#refreshing || Date.now() - this.#diskCheckedAt < DISK_FREE_REFRESH_MS) return
    this.#refreshing = true
    this.#diskCheckedAt = Date.now()
    // Deliberate background work: usage() stays synchronous and a stale reading is at most 1 s old.
    void this.refresh()
      .catch(err => { this.#log.error('could not read free space of %s: %e', this.#path, err) })
      .finally(() => { this.#refreshing = false })
  }
}
