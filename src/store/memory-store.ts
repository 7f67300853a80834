/**
 * A FragmentStore held in memory: for unit tests and `palm demo`. Same contract as the file store
 * (verification on put and get, quarantine of corrupt copies, capacity, idempotent puts, ages for
 * GC), no persistence.
 */
import { CID } from 'multiformats/cid'
import { IntegrityError, NotFoundError, QuotaExceededError } from '../errors.js'
import { throwIfAborted, type AbortOptions } from '../util/abort.js'
import { matchesCid } from '../util/cid.js'
import type { FragmentAges, FragmentEntry, FragmentStore, StoreUsage } from './types.js'

/** Settings of the memory store. */
export interface MemoryStoreInit {
  /** Capacity in bytes (default: unlimited). */
  capacityBytes?: number
}

interface Stored {
  bytes: Uint8Array
  storedAtMs: number
}

/** The in-memory FragmentStore (with GC ages); test hooks `corrupt`, `setStoredAt` and `quarantined`. */
export class MemoryFragmentStore implements FragmentStore, FragmentAges {
  readonly #fragments = new Map<string, Stored>()
  readonly #capacityBytes: number
  #usedBytes = 0
  /** Corrupt copies found by `get`, by CID string (the file store moves them to quarantine/). */
  readonly quarantined = new Map<string, Uint8Array>()

  constructor (init: MemoryStoreInit = {}) {
    this.#capacityBytes = init.capacityBytes ?? Number.MAX_SAFE_INTEGER
  }

  async start (): Promise<void> {}
  async stop (): Promise<void> {}

  async put (cid: CID, bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal, 'fragment put')
    const key = cid.toString()
    if (!matchesCid(cid, bytes)) {
      throw new IntegrityError(`fragment ${key} does not match its content; refusing to store it`, { details: { cid: key } })
    }
    const existing = this.#fragments.get(key)
    if (existing != null) {
      existing.storedAtMs = Date.now()
      return
    }
    if (this.#usedBytes + bytes.byteLength > this.#capacityBytes) {
      throw new QuotaExceededError(`storing fragment ${key} would exceed this device's capacity of ${this.#capacityBytes} bytes`, { details: { cid: key } })
    }
    this.#fragments.set(key, { bytes: bytes.slice(), storedAtMs: Date.now() })
    this.#usedBytes += bytes.byteLength
  }

  async get (cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal, 'fragment get')
    const key = cid.toString()
    const stored = this.#fragments.get(key)
    if (stored == null) throw new NotFoundError(`fragment ${key} is not stored here`, { details: { cid: key } })
    if (!matchesCid(cid, stored.bytes)) {
      this.#remove(key)
      this.quarantined.set(key, stored.bytes)
      throw new IntegrityError(`fragment ${key} in the memory store is corrupt (its bytes do not match its CID); it was quarantined`, { details: { cid: key } })
    }
    return stored.bytes.slice()
  }

  async has (cid: CID, options: AbortOptions = {}): Promise<boolean> {
    throwIfAborted(options.signal, 'fragment has')
    return this.#fragments.has(cid.toString())
  }

  async delete (cid: CID, options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal, 'fragment delete')
    this.#remove(cid.toString())
  }

  async deleteIfOlder (cid: CID, cutoffMs: number, options: AbortOptions = {}): Promise<boolean> {
    throwIfAborted(options.signal, 'fragment delete')
    const key = cid.toString()
    const stored = this.#fragments.get(key)
    if (stored == null || stored.storedAtMs >= cutoffMs) return false
    this.#remove(key)
    return true
  }

  async sync (_cids?: CID[], options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal, 'fragment sync')
  }

  async * list (options: AbortOptions = {}): AsyncIterable<CID> {
    for (const key of [...this.#fragments.keys()]) {
      throwIfAborted(options.signal, 'fragment listing')
      yield CID.parse(key)
    }
  }

  async * entries (options: AbortOptions = {}): AsyncIterable<FragmentEntry> {
    for (const [key, stored] of [...this.#fragments]) {
      throwIfAborted(options.signal, 'fragment listing')
      yield { cid: CID.parse(key), sizeBytes: stored.bytes.byteLength, storedAtMs: stored.storedAtMs }
    }
  }

  usage (): StoreUsage {
    return {
      capacityBytes: this.#capacityBytes,
      usedBytes: this.#usedBytes,
      freeBytes: Math.max(0, this.#capacityBytes - this.#usedBytes),
      fragmentCount: this.#fragments.size
    }
  }

  /** Test hook: overwrite a stored fragment's bytes without verification (corruption injection). */
  corrupt (cid: CID, bytes: Uint8Array): void {
    const key = cid.toString()
    const stored = this.#fragments.get(key)
    if (stored == null) {
      this.#fragments.set(key, { bytes, storedAtMs: Date.now() })
      this.#usedBytes += bytes.byteLength
      return
    }
    this.#usedBytes += bytes.byteLength - stored.bytes.byteLength
    stored.bytes = bytes
  }

  /** Test hook: pretend the fragment was last put at `storedAtMs` (GC ages). */
  setStoredAt (cid: CID, storedAtMs: number): void {
    const stored = this.#fragments.get(cid.toString())
    if (stored != null) stored.storedAtMs = storedAtMs
  }

  #remove (key: string): void {
    const stored = this.#fragments.get(key)
    if (stored == null) return
    this.#fragments.delete(key)
    this.#usedBytes -= stored.bytes.byteLength
  }
}
