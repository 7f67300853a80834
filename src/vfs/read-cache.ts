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
import { baseOf, mergedLength } from '../meta/index.js'
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

  /**
   * The decoded stripe, from the cache or fetched (and cached), its slices laid over it. Callers
   * must not modify it.
   */
  async get (ref: PlacedStripe, file: string, options: AbortOptions = {}): Promise<Uint8Array> {
    const cached = this.#lru.get(mergedKey(ref))
    if (cached != null) { this.hits++; return cached }
    this.misses++
    return await raceSignal(this.#fetch(ref, file), options.signal, `reading ${file}`)
  }

  /**
   * Starts fetching `ref` in the background unless it is cached or in flight. Returns false when
   * every read-ahead slot is busy (nothing started; the caller retries on a later read).
   */
  prefetch (ref: PlacedStripe, file: string): boolean {
    const key = mergedKey(ref)
    if (this.#lru.has(key) || this.#inflight.has(key)) return true
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
    const key = mergedKey(ref)
    let p = this.#inflight.get(key)
    if (p == null) {
      p = (async () => {
        try {
          const data = key === ref.id ? await this.#stripes.read(ref, { file, signal: this.#root.signal }) : await this.#merge(ref, file)
          this.put(key, data)
          return data
        } finally {
          this.#inflight.delete(key)
        }
      })()
      this.#inflight.set(key, p)
    }
    return await p
  }

  /** The base and its slices, fetched in parallel through this cache, slices laid over the base in order. */
  async #merge (ref: PlacedStripe, file: string): Promise<Uint8Array> {
    const slices = ref.slices ?? []
    const one = async (s: PlacedStripe): Promise<Uint8Array> => this.#lru.get(s.id) ?? await this.#fetch(s, file)
    const [base, ...parts] = await Promise.all([one(baseOf(ref)), ...slices.map(one)])
    const out = new Uint8Array(mergedLength(ref))
    out.set(base.subarray(0, Math.min(base.length, out.length)))
    slices.forEach((s, i) => { out.set(parts[i].subarray(0, s.length), s.off) })
    return out
  }
}

/**
 * The cache key of a stripe as read: its id, or with slices the base id and each slice's offset and
 * id (a stripe whose list grew is another entry; the base and each slice are cached under their ids
 * too). Ids are convergent (equal bytes, equal id), so the offsets must be in the key: two stripes
 * of equal bases with one page laid at different offsets hold different bytes.
 */
export function mergedKey (ref: PlacedStripe): string {
  const slices = ref.slices
  if (slices == null || slices.length === 0) return ref.id
  return `${ref.id}+${slices.map(s => `${s.off}:${s.id}`).join('+')}`
}
