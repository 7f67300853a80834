/**
 * Decoded stripes in memory, keyed by stripe id (identical stripes share an id, so dedup'd content
 * is cached once), bounded in bytes by `lru-cache`. Concurrent misses for one stripe share one
 * fetch; each caller still gives up on its own signal. Read-ahead fetches go through a bounded
 * limiter and are dropped (not queued) when it is busy, so prefetching never piles up.
 */
import { setMaxListeners } from 'node:events'
import { LRUCache } from 'lru-cache'
import type { PlacedStripe, StripeIO } from '../place/types.js'
import { raceSignal, type AbortOptions } from '../util/abort.js'
import type { Logger } from '../util/logger.js'
import { Limiter } from './limiter.js'

/** Bounds of the read cache. */
export interface ReadCacheInit {
  /** Bytes of decoded stripes kept (default from VfsInit). */
  limitBytes: number
  /** Read-ahead fetches at once. */
  maxInflightReadAhead: number
}

/** Decoded stripes by stripe id, bounded in bytes, with shared fetches and bounded read-ahead. */
export class ReadCache {
  readonly #lru: LRUCache<string, Uint8Array>
  readonly #inflight = new Map<string, Promise<Uint8Array>>()
  readonly #stripes: Pick<StripeIO, 'read'>
  readonly #readAhead: Limiter
  readonly #log: Logger
  readonly #limitBytes: number
  /** Aborted on stop: background fetches end. */
  readonly #root = new AbortController()
  hits = 0
  misses = 0
  /** Stripes fetched by read-ahead. */
  readAhead = 0

  constructor (init: ReadCacheInit, stripes: Pick<StripeIO, 'read'>, log: Logger) {
    this.#limitBytes = Math.max(1, init.limitBytes)
    this.#lru = new LRUCache<string, Uint8Array>({
      maxSize: this.#limitBytes,
      sizeCalculation: (v) => Math.max(1, v.byteLength)
    })
    this.#stripes = stripes
    this.#readAhead = new Limiter(init.maxInflightReadAhead)
    this.#log = log
    setMaxListeners(Infinity, this.#root.signal)
  }

  get sizeBytes (): number { return this.#lru.calculatedSize }
  get limitBytes (): number { return this.#limitBytes }
  get inflight (): number { return this.#inflight.size }
  /** True when no read-ahead slot is free. */
  get readAheadBusy (): boolean { return this.#readAhead.saturated }

  /** Puts a stripe we already hold (just stored) so a later partial write or read needs no fetch. */
  put (id: string, data: Uint8Array): void {
    if (data.byteLength > this.#limitBytes) return
    // A view on a larger buffer would pin the whole buffer: keep exact-size copies only.
    const exact = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice()
    this.#lru.set(id, exact)
  }

  /**
   * Drops decoded stripes (a file's old content, replaced on another device). Only memory: a stripe
   * id names its bytes (it is derived from the fragments' CIDs), so a cached stripe is never wrong,
   * only perhaps no longer used. Fetches in flight finish and are cached as usual.
   */
  drop (ids: Iterable<string>): void {
    for (const id of ids) this.#lru.delete(id)
  }

  /** The decoded stripe, from the cache or fetched (and cached). Callers must not modify it. */
  async get (ref: PlacedStripe, file: string, options: AbortOptions = {}): Promise<Uint8Array> {
    const cached = this.#lru.get(ref.id)
    if (cached != null) { this.hits++; return cached }
    this.misses++
    return await raceSignal(this.#fetch(ref, file), options.signal, `reading ${file}`)
  }

  /**
   * Starts fetching `ref` in the background unless it is cached or in flight. Returns false when
   * every read-ahead slot is busy (nothing started; the caller retries on a later read).
   */
  prefetch (ref: PlacedStripe, file: string): boolean {
    if (this.#lru.has(ref.id) || this.#inflight.has(ref.id)) return true
    if (this.#readAhead.saturated) return false
    void this.#readAhead.run(async () => { await this.#fetch(ref, file); this.readAhead++ }).catch((err) => {
      this.#log.trace('read-ahead of %s stripe %s failed: %s', file, ref.id, (err as Error).message)
    })
    return true
  }

  stop (): void {
    this.#root.abort()
    this.#lru.clear()
  }

  async #fetch (ref: PlacedStripe, file: string): Promise<Uint8Array> {
    let p = this.#inflight.get(ref.id)
    if (p == null) {
      p = (async () => {
        try {
          const data = await this.#stripes.read(ref, { file, signal: this.#root.signal })
          this.put(ref.id, data)
          return data
        } finally {
          this.#inflight.delete(ref.id)
        }
      })()
      this.#inflight.set(ref.id, p)
    }
    return await p
  }
}
