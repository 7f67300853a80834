/**
 * A FragmentStore held in memory: for unit tests and `palm demo`. Same contract as the file store
 * (verification on put and get, capacity, idempotent puts), no persistence.
 */
import { CID } from 'multiformats/cid'
import { IntegrityError, NotFoundError, QuotaExceededError } from '../errors.js'
import { throwIfAborted, type AbortOptions } from '../util/abort.js'
import { matchesCid } from '../util/cid.js'
import type { FragmentStore, StoreUsage } from './types.js'

export interface MemoryStoreInit {
  /** Capacity in bytes (default: unlimited). */
  capacityBytes?: number
}

export class MemoryFragmentStore implements FragmentStore {
  readonly #fragments = new Map<string, Uint8Array>()
  readonly #capacityBytes: number
  #usedBytes = 0

  constructor (init: MemoryStoreInit = {}) {
    this.#capacityBytes = init.capacityBytes ?? Number.MAX_SAFE_INTEGER
  }

  async start (): Promise<void> {}
  async stop (): Promise<void> {}

  async put (cid: CID, bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal, 'fragment put')
    const key = cid.toString()
    if (this.#fragments.has(key)) return
    if (!matchesCid(cid, bytes)) {
      throw new IntegrityError(`fragment ${key} does not match its content; refusing to store it`, { details: { cid: key } })
    }
    if (this.#usedBytes + bytes.byteLength > this.#capacityBytes) {
      throw new QuotaExceededError(`storing fragment ${key} would exceed this device's capacity of ${this.#capacityBytes} bytes`, { details: { cid: key } })
    }
    this.#fragments.set(key, bytes.slice())
    this.#usedBytes += bytes.byteLength
  }

  async get (cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal, 'fragment get')
    const bytes = this.#fragments.get(cid.toString())
    if (bytes == null) throw new NotFoundError(`fragment ${cid.toString()} is not stored here`, { details: { cid: cid.toString() } })
    return bytes.slice()
  }

  async has (cid: CID): Promise<boolean> {
    return this.#fragments.has(cid.toString())
  }

  async delete (cid: CID): Promise<void> {
    const key = cid.toString()
    const bytes = this.#fragments.get(key)
    if (bytes == null) return
    this.#fragments.delete(key)
    this.#usedBytes -= bytes.byteLength
  }

  async sync (): Promise<void> {}

  async * list (): AsyncIterable<CID> {
    for (const key of [...this.#fragments.keys()]) yield CID.parse(key)
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
    this.#fragments.set(cid.toString(), bytes)
  }
}
