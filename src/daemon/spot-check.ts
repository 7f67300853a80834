/**
 * Spot check of acknowledged puts (issue 15): an "ok" to a put is taken on trust when it arrives,
 * and a random sample of them is verified later by fetching the fragment back from the device that
 * acknowledged it (the fragment client checks the bytes against the CID). A device that answers
 * "not found" or wrong bytes for a fragment the journal still references is a liar: it is logged,
 * listed in status, and `onLiar` tells placement to stop picking it and repair to rebuild what it
 * was meant to hold.
 *
 * Bounds: a put is sampled with probability `sampleRate`; at most `maxPending` samples wait (the
 * oldest go first); each run checks at most `checksPerRun` samples at least `minAgeMs` old. A
 * timeout or an unreachable device is no evidence: that sample is dropped. Nor is a miss after the
 * device went offline (a restart or a power cut may lose puts acknowledged before its own fsync):
 * its pending samples are dropped then (`forget`). A liar could hide by dropping its connections
 * after each put, at the price of being offline to every device that long.
 *
 * `SpotSampler` is the pure part (which acks to sample, which are due); `SpotChecker` adds the I/O.
 */
import type { CID } from 'multiformats/cid'
import type { FragmentClient, PutOutcome } from '../net/index.js'
import type { AbortOptions } from '../util/abort.js'
import type { Logger } from '../util/logger.js'

export interface SpotCheckInit {
  /** Share of acknowledged puts checked later (default 1/32). */
  sampleRate?: number
  /** Samples waiting at most (default 256; the oldest is dropped for a new one). */
  maxPending?: number
  /** Samples checked per run at most (default 4). */
  checksPerRun?: number
  /** A sample is checked only this long after its ack, ms (default 5000). */
  minAgeMs?: number
}

export interface Sample { peer: string, cid: CID, atMs: number }

export class SpotSampler {
  readonly #rate: number
  readonly #max: number
  readonly #perRun: number
  readonly #minAgeMs: number
  readonly #random: () => number
  readonly #pending: Sample[] = []

  constructor (init: SpotCheckInit = {}, random: () => number = Math.random) {
    this.#rate = Math.min(1, Math.max(0, init.sampleRate ?? 1 / 32))
    this.#max = Math.max(1, init.maxPending ?? 256)
    this.#perRun = Math.max(1, init.checksPerRun ?? 4)
    this.#minAgeMs = Math.max(0, init.minAgeMs ?? 5_000)
    this.#random = random
  }

  /** An ack from `peer` for `cid`: kept as a sample with probability sampleRate; true when kept. */
  offer (peer: string, cid: CID, nowMs = Date.now()): boolean {
    if (this.#random() >= this.#rate) return false
    if (this.#pending.length >= this.#max) this.#pending.shift()
    this.#pending.push({ peer, cid, atMs: nowMs })
    return true
  }

  /** Takes the samples due now (oldest first, at most checksPerRun). */
  due (nowMs = Date.now()): Sample[] {
    const out: Sample[] = []
    while (out.length < this.#perRun && this.#pending.length > 0 && nowMs - this.#pending[0].atMs >= this.#minAgeMs) {
      out.push(this.#pending.shift() as Sample)
    }
    return out
  }

  /**
   * Drops the samples of `peer` (it went offline): a device that restarts, or loses power, may
   * rightly lose puts it acknowledged before its own fsync, so a later miss is no evidence of a lie.
   * Returns how many were dropped.
   */
  forget (peer: string): number {
    const before = this.#pending.length
    for (let i = this.#pending.length - 1; i >= 0; i--) if (this.#pending[i].peer === peer) this.#pending.splice(i, 1)
    return before - this.#pending.length
  }

  get pending (): number { return this.#pending.length }
}

export interface Liar { id: string, cid: string, reason: string, atMs: number }

export interface SpotCheckComponents {
  fragments: Pick<FragmentClient, 'get'>
  /** Of `cids`, those the journal still references (a deleted file's fragments may be gone rightly). */
  referenced: (cids: CID[], options: AbortOptions) => Promise<CID[]>
  /** `peer` lied: placement stops trusting it, repair rebuilds its fragments. */
  onLiar: (peer: string, reason: string) => void
  log: Logger
  /** Per fetch, ms (default 10000). */
  fetchTimeoutMs?: number
}

export interface SpotCheckStats { sampled: number, checked: number, passed: number, liars: Liar[] }

export class SpotChecker {
  readonly sampler: SpotSampler
  readonly #c: SpotCheckComponents
  readonly #liars = new Map<string, Liar>()
  #sampled = 0
  #checked = 0
  #passed = 0

  constructor (init: SpotCheckInit, components: SpotCheckComponents, random?: () => number) {
    this.sampler = new SpotSampler(init, random)
    this.#c = components
  }

  /** `client` with its acknowledged puts offered to the sampler (the daemon hands this to placement). */
  watch<T extends Pick<FragmentClient, 'put' | 'putMany'>> (client: T): T {
    const offer = (peer: unknown, cid: CID): void => {
      const id = String(peer)
      if (!this.#liars.has(id) && this.sampler.offer(id, cid)) this.#sampled++
    }
    return new Proxy(client, {
      get: (target, prop, receiver) => {
        if (prop === 'put') {
          return async (peer: Parameters<T['put']>[0], cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void> => {
            await target.put(peer, cid, bytes, options)
            offer(peer, cid)
          }
        }
        if (prop === 'putMany') {
          return async (peer: Parameters<T['putMany']>[0], items: Parameters<T['putMany']>[1], options?: AbortOptions): Promise<PutOutcome[]> => {
            const outcomes = await target.putMany(peer, items, options)
            for (const o of outcomes) if (o.ok) offer(peer, o.cid)
            return outcomes
          }
        }
        const v = Reflect.get(target, prop, receiver)
        return typeof v === 'function' ? v.bind(target) : v
      }
    })
  }

  /** Checks the samples due now. */
  async run (options: AbortOptions = {}): Promise<void> {
    for (const s of this.sampler.due()) {
      options.signal?.throwIfAborted()
      if (this.#liars.has(s.peer)) continue
      await this.#check(s, options)
    }
  }

  async #check (s: Sample, options: AbortOptions): Promise<void> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.#c.fetchTimeoutMs ?? 10_000), ...(options.signal != null ? [options.signal] : [])])
    let reason: string
    try {
      await this.#c.fragments.get(s.peer, s.cid, { signal })
      this.#checked++
      this.#passed++
      return
    } catch (err) {
      const name = (err as Error).name
      if (name !== 'NotFoundError' && name !== 'IntegrityError') {
        this.#c.log('spot check of fragment %s on %s: no answer (%s); not counted', s.cid.toString(), s.peer, (err as Error).message)
        return
      }
      reason = name === 'NotFoundError' ? 'does not have a fragment it acknowledged' : 'returned wrong bytes for a fragment it acknowledged'
    }
    this.#checked++
    // A fragment of a file deleted since may be gone rightly: only a referenced one is evidence.
    if ((await this.#c.referenced([s.cid], options)).length === 0) return
    const liar: Liar = { id: s.peer, cid: s.cid.toString(), reason, atMs: Date.now() }
    this.#liars.set(s.peer, liar)
    this.#c.log.error('device %s %s (%s): placement stops using it and its fragments are rebuilt elsewhere', s.peer, reason, liar.cid)
    this.#c.onLiar(s.peer, reason)
  }

  stats (): SpotCheckStats {
    return { sampled: this.#sampled, checked: this.#checked, passed: this.#passed, liars: [...this.#liars.values()] }
  }
}
