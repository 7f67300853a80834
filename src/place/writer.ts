/**
 * Storing one encoded stripe's fragments under the durability rule (`durability`):
 *
 * - `all` (default): every fragment is acknowledged by the device that stores it. A device that
 *   fails or refuses gets its fragments moved to the next device (a device holding none of this
 *   stripe first, else the least loaded). Returns when all n are stored.
 * - `spread`: as `all`, but once the fragments are on min(k + 1, n, available) distinct devices,
 *   stragglers get as long again as that took; fragments still unacknowledged then are stored on
 *   this device instead and queued for their device.
 * - `local`: all n fragments go to this device's store; the ones meant for other devices are queued
 *   and copied in the background (the spreader). Fastest close, no protection against losing this
 *   device until the copies are made.
 *
 * In every mode the write returns only when all n fragments are stored somewhere (so never fewer
 * than k), and a fragment that doubled up on a device because its own device was missing is queued
 * for that device (the shortfall, see spread-queue.ts).
 */
import { IoError, NoSpaceError } from '../errors.js'
import type { EncodedStripe } from '../chunk/index.js'
import type { DurabilityMode } from '../config/defaults.js'
import type { FragmentStore } from '../store/index.js'
import { abortError, throwIfAborted } from '../util/abort.js'
import type { Logger } from '../util/logger.js'
import { isNoRoom } from './device-stats.js'
import { preferKeeper } from './keeper.js'
import type { DeviceTable } from './device-table.js'
import { pickFallback, planPlacement, roomOf, stripeCap, type Candidate, type PlacementPlan } from './placement.js'
import type { FragmentSender } from './sender.js'
import type { SpreadEntry, StripeIOOptions } from './types.js'

/** What a stripe write needs. */
export interface WriterDeps {
  devices: DeviceTable
  sender: FragmentSender
  store: Pick<FragmentStore, 'put' | 'sync' | 'usage'>
  log: Logger
}

/** Where the fragments went, and what waits to be spread. */
export interface WriteOutcome {
  /** Devices holding each fragment (the first one acknowledged it; a second one is where it is meant to go). */
  holders: string[][]
  queued: SpreadEntry[]
}

function what (stripe: EncodedStripe, options: StripeIOOptions): string {
  return options.file ?? `stripe ${stripe.id}`
}

/** ENOSPC naming the file and the pool's room. */
function noSpace (stripe: EncodedStripe, options: StripeIOOptions, candidates: Candidate[], fragmentBytes: number, cause?: unknown): NoSpaceError {
  const free = candidates.filter(c => c.available).reduce((s, c) => s + c.freeBytes, 0)
  const room = candidates.filter(c => c.available && roomOf(c, fragmentBytes) >= 1).length
  return new NoSpaceError(
    `no room to store ${what(stripe, options)}: the pool cannot take ${stripe.n} fragments of ${fragmentBytes} bytes ` +
    `(${room} available device${room === 1 ? '' : 's'} with room, ${free} bytes free in all); delete files, raise a device's capacity or add a device`,
    { cause, details: { file: options.file, stripe: stripe.id } })
}

/** Stores the stripe's fragments under `mode`; see the module comment. */
export async function writeFragments (deps: WriterDeps, stripe: EncodedStripe, mode: DurabilityMode, options: StripeIOOptions = {}): Promise<WriteOutcome> {
  throwIfAborted(options.signal, `storing ${what(stripe, options)}`)
  const fragmentBytes = stripe.fragments[0]?.bytes.byteLength ?? 0
  const candidates = deps.devices.candidates()
  const plan = planPlacement(stripe.id, stripe, fragmentBytes, candidates)
  if (plan.unplaced > 0) throw noSpace(stripe, options, candidates, fragmentBytes)
  const self = candidates.find(c => c.self) as Candidate
  if (mode === 'local' && roomOf(self, fragmentBytes) >= stripe.n) return await writeLocal(deps, stripe, plan, options)
  return await new StripeWrite(deps, stripe, mode, candidates, fragmentBytes, options).run(plan)
}

/** `local`: every fragment here; the others' copies queued. */
async function writeLocal (deps: WriterDeps, stripe: EncodedStripe, plan: PlacementPlan, options: StripeIOOptions): Promise<WriteOutcome> {
  const self = deps.devices.selfId
  await putHere(deps, stripe.fragments, options)
  const holders: string[][] = []
  const queued: SpreadEntry[] = []
  stripe.fragments.forEach((f, i) => {
    const target = plan.queued.get(i) ?? plan.devices[i]
    holders.push(target === self ? [self] : [self, target])
    if (target !== self) queued.push({ cid: f.cid.toString(), target, holders: [self], stripe: stripe.id, file: options.file })
  })
  return { holders, queued }
}

/** Stores fragments on this device, and with `options.sync` flushes them, all in one flush. */
async function putHere (deps: WriterDeps, frags: EncodedStripe['fragments'], options: StripeIOOptions): Promise<void> {
  await Promise.all(frags.map(async f => { await deps.store.put(f.cid, f.bytes, { signal: options.signal }) }))
  if (options.sync === true) await deps.store.sync(frags.map(f => f.cid), { signal: options.signal })
}

/** One stripe's fragments in flight under `all` or `spread`. */
class StripeWrite {
  readonly #d: WriterDeps
  readonly #stripe: EncodedStripe
  readonly #mode: DurabilityMode
  readonly #candidates: Candidate[]
  readonly #bytes: number
  readonly #options: StripeIOOptions
  readonly #holders: string[][]
  readonly #stored: boolean[]
  /** Fragment index → the device it is meant for (not where it is stored). */
  readonly #meantFor = new Map<number, string>()
  /** The device each fragment was last sent to. */
  readonly #sentTo: string[] = []
  /** Fragments stored or in flight per device. */
  readonly #load = new Map<string, number>()
  /** Devices that failed a fragment of this stripe. */
  readonly #failed = new Set<string>()
  /** Failed devices that refused for lack of room (a subset of #failed). */
  readonly #full = new Set<string>()
  readonly #started = performance.now()
  #left: number
  #done = false
  #graceTimer?: NodeJS.Timeout
  #resolve!: (o: WriteOutcome) => void
  #reject!: (err: Error) => void

  constructor (deps: WriterDeps, stripe: EncodedStripe, mode: DurabilityMode, candidates: Candidate[], bytes: number, options: StripeIOOptions) {
    this.#d = deps
    this.#stripe = stripe
    this.#mode = mode
    this.#candidates = candidates
    this.#bytes = bytes
    this.#options = options
    this.#holders = stripe.fragments.map(() => [])
    this.#stored = stripe.fragments.map(() => false)
    this.#left = stripe.n
  }

  async run (plan: PlacementPlan): Promise<WriteOutcome> {
    const result = new Promise<WriteOutcome>((resolve, reject) => { this.#resolve = resolve; this.#reject = reject })
    const onAbort = (): void => { this.#finish(abortError(this.#options.signal as AbortSignal, `storing ${what(this.#stripe, this.#options)}`)) }
    this.#options.signal?.addEventListener('abort', onAbort, { once: true })
    for (const [i, target] of plan.queued) this.#meantFor.set(i, target)
    const byDevice = new Map<string, number[]>()
    plan.devices.forEach((d, i) => { byDevice.set(d, [...(byDevice.get(d) ?? []), i]) })
    for (const [device, indexes] of byDevice) this.#send(device, indexes)
    try {
      return await result
    } finally {
      this.#options.signal?.removeEventListener('abort', onAbort)
      clearTimeout(this.#graceTimer)
    }
  }

  #send (device: string, indexes: number[]): void {
    for (const i of indexes) {
      this.#load.set(device, (this.#load.get(device) ?? 0) + 1)
      this.#sentTo[i] = device
    }
    const frags = indexes.map(i => this.#stripe.fragments[i])
    if (device === this.#d.devices.selfId) {
      putHere(this.#d, frags, this.#options).then(
        () => { for (const f of frags) this.#ok(f.index, device) },
        (err) => { for (const f of frags) this.#fail(f.index, device, err) })
      return
    }
    this.#d.sender.send(device, frags.map(f => ({ cid: f.cid, bytes: f.bytes })), { signal: this.#options.signal, sync: this.#options.sync }).then(
      (outcomes) => { outcomes.forEach((o, j) => { if (o.ok) this.#ok(indexes[j], device); else this.#fail(indexes[j], device, o.error) }) },
      (err) => { for (const i of indexes) this.#fail(i, device, err) })
  }

  #ok (index: number, device: string): void {
    if (this.#done || this.#stored[index]) return
    this.#stored[index] = true
    const meant = this.#meantFor.get(index)
    this.#holders[index] = meant != null && meant !== device ? [device, meant] : [device]
    if (--this.#left === 0) { this.#finish(); return }
    if (this.#mode === 'spread' && this.#graceTimer == null && this.#distinct() >= this.#spreadThreshold()) {
      const graceMs = Math.max(50, performance.now() - this.#started)
      this.#graceTimer = setTimeout(() => { this.#storeStragglersHere() }, graceMs)
    }
  }

  #fail (index: number, device: string, err: unknown): void {
    if (this.#done || this.#stored[index]) return
    this.#load.set(device, Math.max(0, (this.#load.get(device) ?? 1) - 1))
    this.#failed.add(device)
    if (isNoRoom(err)) this.#full.add(device)
    const name = this.#d.devices.describe(device)
    this.#d.log('fragment %d of %s could not be stored on %s: %s', index, what(this.#stripe, this.#options), name, (err as Error)?.message ?? String(err))
    const cap = stripeCap(this.#stripe, this.#candidates.filter(c => c.available && !this.#failed.has(c.id)).length)
    const next = this.#keeperCheck(pickFallback(this.#stripe.id, this.#bytes, this.#candidates, this.#load, this.#failed, cap))
    if (next == null) {
      // ENOSPC when room is what ran out; a device that failed otherwise (timeout, reset) makes it EIO.
      const roomRanOut = [...this.#failed].every(d => this.#full.has(d))
      this.#finish(roomRanOut
        ? noSpace(this.#stripe, this.#options, this.#candidates.filter(c => !this.#failed.has(c.id)), this.#bytes, err)
        : new IoError(`could not store fragment ${index} of ${what(this.#stripe, this.#options)} on any device (last: ${name}: ${(err as Error)?.message}); check the devices with \`palm peers\``, { cause: err, details: { file: this.#options.file, stripe: this.#stripe.id } }))
      return
    }
    // Doubling up on a device that already holds part of the stripe: queue it for the missing one.
    if ((this.#load.get(next) ?? 0) > 0 && !isNoRoom(err) && !this.#meantFor.has(index)) this.#meantFor.set(index, device)
    this.#send(next, [index])
  }

  /** The small-swarm rule (keeper.ts): the writer takes the fragment when the choice would leave a stripe no one-device loss spares and the writer without k. */
  #keeperCheck (choice: string | undefined): string | undefined {
    const self = this.#candidates.find(c => c.self)
    if (self == null || this.#failed.has(self.id)) return choice
    return preferKeeper(choice, this.#load, this.#stripe, self.id, roomOf(self, this.#bytes))
  }

  /** Distinct devices holding the stored fragments. */
  #distinct (): number {
    return new Set(this.#holders.filter((_, i) => this.#stored[i]).map(h => h[0])).size
  }

  #spreadThreshold (): number {
    const available = this.#candidates.filter(c => c.available && !this.#failed.has(c.id)).length
    return Math.min(this.#stripe.k + 1, this.#stripe.n, Math.max(1, available))
  }

  /**
   * `spread`: fragments still unacknowledged after the grace go to this device and are queued, as
   * long as this device stays within the per-stripe cap (the others keep waiting for their device).
   */
  #storeStragglersHere (): void {
    const self = this.#d.devices.selfId
    const cap = stripeCap(this.#stripe, this.#candidates.filter(c => c.available && !this.#failed.has(c.id)).length)
    let here = this.#holders.filter((h, i) => this.#stored[i] && h[0] === self).length
    this.#stored.forEach((stored, i) => {
      if (stored || this.#sentTo[i] === self || here >= cap) return
      here++
      const f = this.#stripe.fragments[i]
      const meant = this.#meantFor.get(i) ?? this.#sentTo[i] ?? self
      putHere(this.#d, [f], this.#options).then(() => {
        if (meant !== self && !this.#meantFor.has(i)) this.#meantFor.set(i, meant)
        this.#ok(i, self)
      }, (err) => { this.#d.log('could not keep straggling fragment %d of %s here: %s', i, what(this.#stripe, this.#options), (err as Error).message) })
    })
  }

  #finish (err?: Error): void {
    if (this.#done) return
    this.#done = true
    if (err != null) { this.#reject(err); return }
    const queued: SpreadEntry[] = []
    this.#holders.forEach((h, i) => {
      if (h.length > 1) queued.push({ cid: this.#stripe.fragments[i].cid.toString(), target: h[1], holders: [h[0]], stripe: this.#stripe.id, file: this.#options.file })
    })
    this.#resolve({ holders: this.#holders, queued })
  }
}
