/**
 * StripeIO for one device alone (the embedded default): every fragment of a stripe goes to this
 * device's fragment store, so that spreading fragments over peers later changes placement only.
 *
 * write: encode in the chunk pool → put all n fragments in parallel → PlacedStripe whose holders
 * are all this device. read: fetch the data fragments 0…k-1 first (decoding from data shards skips
 * Reed-Solomon), and for each one missing or corrupt (the store verifies and quarantines) try the
 * next parity fragment; decode with the manifest's CIDs. Fewer than k readable fragments is a
 * FragmentsUnavailableError naming the file. A full device is NoSpaceError (ENOSPC), whether the
 * configured capacity or the disk ran out.
 */
import { CID } from 'multiformats/cid'
import type { ChunkPool } from '../chunk/index.js'
import { FragmentsUnavailableError, NoSpaceError, type PalmError } from '../errors.js'
import type { FragmentStore } from '../store/index.js'
import { throwIfAborted, type AbortOptions } from '../util/abort.js'
import type { ComponentLogger, Logger } from '../util/logger.js'
import type { PlacedStripe, PoolUsage, StripeHealth, StripeIO, StripeIOOptions, StripePolicy } from './types.js'
import { isNoRoom } from './device-stats.js'

/** Policy used for usage figures when none is given: 4-of-6, the swarm default. */
export const DEFAULT_LOCAL_POLICY: StripePolicy = { k: 4, n: 6 }

/** Settings of the local stripe I/O. */
export interface LocalStripeIOInit {
  /** The policy that turns raw capacity into usable bytes (× k/n) in `usage()`. Default 4-of-6. */
  policy?: StripePolicy
}

/** What the local stripe I/O uses: the chunk pool, this device's store, its id and a logger. */
export interface LocalStripeIOComponents {
  pool: ChunkPool
  store: FragmentStore
  /** This device's id: the holder of every fragment. */
  deviceId: string
  logger: ComponentLogger
}

class LocalStripeIO implements StripeIO {
  readonly #pool: ChunkPool
  readonly #store: FragmentStore
  readonly #deviceId: string
  readonly #policy: StripePolicy
  readonly #log: Logger

  constructor (init: LocalStripeIOInit, components: LocalStripeIOComponents) {
    this.#pool = components.pool
    this.#store = components.store
    this.#deviceId = components.deviceId
    this.#policy = init.policy ?? DEFAULT_LOCAL_POLICY
    this.#log = components.logger.forComponent('palm:place:local')
  }

  async write (stripe: Uint8Array, policy: StripePolicy, options: StripeIOOptions = {}): Promise<PlacedStripe> {
    throwIfAborted(options.signal, 'stripe write')
    // The caller keeps its buffer (it may still be cached): the pool copies it, or reads it in place
    // when it is shared memory, which the write buffer does not write while a store of it runs.
    const encodeOptions = { signal: options.signal, keepStripe: true }
    const encoded = await this.#pool.encode(stripe, policy, encodeOptions)
    const results = await Promise.allSettled(encoded.fragments.map(async f => { await this.#store.put(f.cid, f.bytes, { signal: options.signal }) }))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    // Fragments stored before the failure stay as orphans: GC takes them (they may be shared by dedup, so no delete here).
    if (failed != null) throw this.#writeError(failed.reason, options.file, encoded.id)
    if (options.sync === true) {
      try {
        await this.#store.sync(encoded.fragments.map(f => f.cid), { signal: options.signal })
      } catch (err) {
        throw this.#writeError(err, options.file, encoded.id)
      }
    }
    this.#log.trace('stored stripe %s (%d bytes, %d-of-%d) of %s', encoded.id, encoded.length, encoded.k, encoded.n, options.file ?? '?')
    return {
      length: encoded.length,
      id: encoded.id,
      k: encoded.k,
      n: encoded.n,
      codecId: encoded.codecId,
      fragments: encoded.fragments.map(f => f.cid.toString()),
      holders: encoded.fragments.map(() => [this.#deviceId])
    }
  }

  #writeError (err: unknown, file: string | undefined, stripeId: string): unknown {
    const what = file ?? `stripe ${stripeId}`
    if (isNoRoom(err)) {
      const u = this.#store.usage()
      return new NoSpaceError(
        `no room to store ${what}: this device is full (${u.usedBytes} of ${u.capacityBytes} bytes used, ${u.freeBytes} free); ` +
        'delete files, or raise the capacity with `palm init --capacity`',
        { cause: err, details: { file, stripe: stripeId, device: this.#deviceId } })
    }
    return err
  }

  async read (stripe: PlacedStripe, options: StripeIOOptions = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal, 'stripe read')
    const found: Array<{ index: number, bytes: Uint8Array }> = []
    const problems: string[] = []
    let next = 0
    // k slots, each taking the next untried index until it holds one good fragment: data shards first.
    const slot = async (): Promise<void> => {
      while (next < stripe.n) {
        const index = next++
        try {
          const bytes = await this.#store.get(CID.parse(stripe.fragments[index]), { signal: options.signal })
          found.push({ index, bytes })
          return
        } catch (err) {
          throwIfAborted(options.signal, 'stripe read')
          problems.push(`fragment ${index} ${describe(err)}`)
          this.#log('fragment %d (%s) of %s unusable: %e', index, stripe.fragments[index], options.file ?? stripe.id, err)
        }
      }
    }
    await Promise.all(Array.from({ length: stripe.k }, slot))
    if (found.length < stripe.k) {
      const what = options.file ?? `stripe ${stripe.id}`
      throw new FragmentsUnavailableError(
        `cannot read ${what}: only ${found.length} of the ${stripe.k} fragments needed are readable on this device ` +
        `(${problems.join('; ')}); restore the missing fragments from a backup or another device, then run \`palm fsck\``,
        { found: found.length, needed: stripe.k, peers: [this.#deviceId], details: { file: options.file, stripe: stripe.id } })
    }
    const decodeOptions = { signal: options.signal, transferFragments: true }
    return await this.#pool.decode(found, { k: stripe.k, n: stripe.n, length: stripe.length, codecId: stripe.codecId, cids: stripe.fragments }, decodeOptions)
  }

  async sync (stripes: PlacedStripe[], options: StripeIOOptions = {}): Promise<void> {
    const cids = stripes.flatMap(s => s.fragments.map(f => CID.parse(f)))
    if (cids.length === 0) return
    await this.#store.sync(cids, { signal: options.signal })
  }

  async health (stripe: PlacedStripe, options: AbortOptions = {}): Promise<StripeHealth> {
    const present = await Promise.all(stripe.fragments.map(async f => await this.#store.has(CID.parse(f), options)))
    const reachable = present.filter(Boolean).length
    return { reachable, needed: stripe.k, total: stripe.n, devices: reachable > 0 ? [this.#deviceId] : [] }
  }

  usage (): PoolUsage {
    const u = this.#store.usage()
    const usable = (bytes: number): number => Math.floor(bytes * this.#policy.k / this.#policy.n)
    return {
      usableFreeBytes: usable(u.freeBytes),
      usableCapacityBytes: usable(u.capacityBytes),
      rawCapacityBytes: u.capacityBytes,
      rawUsedBytes: u.usedBytes,
      devices: 1
    }
  }
}

function describe (err: unknown): string {
  if (err != null && typeof err === 'object' && 'name' in err) {
    const e = err as PalmError
    return e.name === 'NotFoundError' ? 'is missing' : `failed (${e.name}${e.code != null ? ` ${e.code}` : ''})`
  }
  return `failed (${String(err)})`
}

/** StripeIO for this device alone: all n fragments of every stripe in the local store. */
export function createLocalStripeIO (init: LocalStripeIOInit, components: LocalStripeIOComponents): StripeIO {
  return new LocalStripeIO(init, components)
}
