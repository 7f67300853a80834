/**
 * The re-encoder: after a folder's `user.palm.policy` changes, brings the files below it to the
 * policy now in force for them, in the background (docs/repair.md "Re-encoding").
 *
 * - **Which files.** The policy in force for a file is its nearest ancestor folder's
 *   `user.palm.policy`, else the swarm's (what a new file beside it would get). A change of any
 *   folder's xattrs (the change feed, local or replicated) queues a walk of that folder's subtree; a
 *   slow survey of the whole tree (`surveyIntervalMs`, first `surveyDelayMs` after start) catches
 *   what a restart or a failure missed. A walk reads only the journal: folders, then each file's
 *   stripes in pages, so memory holds one page and the folders still to visit.
 * - **Who.** The device responsible for the stripe (rendezvous over the online devices, as for
 *   repair) re-encodes it; the others count it as waiting.
 * - **How.** Read the stripe through the pool's retrieval (any k), write it again at the new policy
 *   through the pool's write path (the same encoder and placement as a file write, durability rule
 *   included), then one `reencode` op replaces the old stripe only if it is still there: a write
 *   meanwhile wins and the new fragments are garbage for GC; so are the old ones once replaced.
 *   Bytes fetched + stored stay within `bytesPerSecond` (the repair budget).
 */
import { ROOT_INO, type MetaStore, type StripeRef } from '../meta/index.js'
import type { StripeIO, StripePolicy } from '../place/index.js'
import { combineSignals, delay, type AbortOptions } from '../util/abort.js'
import type { ComponentLogger, Logger } from '../util/logger.js'
import { needsReencode, reencodeBytes, storedPolicy, stripesToReencode, updatesRecord } from './reencode-plan.js'

/** A folder's policy (the VFS's XATTR_POLICY; repair does not import the VFS). */
const XATTR_POLICY = 'user.palm.policy'
/** Entries and stripes read from the journal at once. */
const PAGE = 64
/** Most stripes remembered as waiting (status); more are counted from the next survey on. */
const MAX_WAITING = 100_000
/** Longest wait before a walk with failures is done again, ms. */
const MAX_RETRY_MS = 60 * 60_000
/** Most inodes queued for a walk (every create under a folder with a policy sets an xattr); past it the whole tree is walked instead. */
const MAX_QUEUED = 65_536

export interface ReencoderInit {
  /** Budget: bytes fetched + stored per second (the repair budget, `repairBytesPerSec`). Default 32 MiB/s. */
  bytesPerSecond?: number
  /** How often the whole tree is surveyed, ms (0 = never). Default 6 h. */
  surveyIntervalMs?: number
  /** The first survey after start, ms. Default 60 s. */
  surveyDelayMs?: number
  /** A walk that failed some stripes is done again after this long (doubling while failures go on, up to 1 h), ms. Default 60 s. */
  retryMs?: number
  /** Stripes re-encoded at once. Default 2. */
  concurrency?: number
  /** Deadline of one stripe's re-encoding, ms. Default 120 s. */
  stripeTimeoutMs?: number
}

export interface ReencoderComponents {
  meta: Pick<MetaStore, 'getattr' | 'getxattr' | 'setxattr' | 'parentOf' | 'readdir' | 'getStripes' | 'stripeSizeOf' | 'reencodeStripe' | 'onChange' | 'pathOf'>
  /** The pool's read (any k) and write (encode + place at a policy). */
  stripes: Pick<StripeIO, 'read' | 'write'>
  /** The swarm's policy: in force where no folder sets one. */
  policy: StripePolicy
  /** The online devices, this one included (the repairer's view): who is responsible for a stripe. */
  online: () => string[]
  deviceId: string
  logger: ComponentLogger
}

/** Re-encoding's numbers for `palm status`. */
export interface ReencodeStatus {
  /** Stripes at another k/n than their folder's policy, whoever re-encodes them, as the last walks saw them. */
  stripesWaiting: number
  /** By this device since start. */
  stripesReencoded: number
  reencodeFailures: number
  /** When the last survey of the whole tree ended (epoch ms; 0 = none yet). */
  lastSurveyMs: number
}

export class Reencoder {
  readonly #c: ReencoderComponents
  readonly #log: Logger
  readonly #bytesPerSecond: number
  readonly #surveyIntervalMs: number
  readonly #surveyDelayMs: number
  readonly #retryMs: number
  readonly #concurrency: number
  readonly #stripeTimeoutMs: number
  readonly #controller = new AbortController()
  /** Folders whose subtree is to be walked. */
  readonly #queue = new Set<number>()
  /** Files whose waiting stripes changed (re-checked, not re-encoded). */
  readonly #files = new Set<number>()
  /** ino → (stripe index → the policy it waits for). */
  readonly #waiting = new Map<number, Map<number, StripePolicy>>()
  #waitingCount = 0
  #worker?: Promise<void>
  #unsubscribe?: () => void
  #surveyTimer?: NodeJS.Timeout
  #retryTimer?: NodeJS.Timeout
  /** Pacing: when the budget allows the next stripe (performance.now() ms). */
  #nextFreeMs = 0
  #retryDelayMs: number
  #started = false
  readonly #status = { stripesReencoded: 0, reencodeFailures: 0, lastSurveyMs: 0 }

  constructor (init: ReencoderInit, components: ReencoderComponents) {
    this.#c = components
    this.#log = components.logger.forComponent('palm:repair:reencode')
    this.#bytesPerSecond = init.bytesPerSecond ?? 32 * 2 ** 20
    this.#surveyIntervalMs = init.surveyIntervalMs ?? 6 * 60 * 60_000
    this.#surveyDelayMs = init.surveyDelayMs ?? 60_000
    this.#retryMs = init.retryMs ?? 60_000
    this.#retryDelayMs = this.#retryMs
    this.#concurrency = Math.max(1, init.concurrency ?? 2)
    this.#stripeTimeoutMs = init.stripeTimeoutMs ?? 120_000
  }

  async start (): Promise<void> {
    if (this.#started) return
    this.#started = true
    this.#unsubscribe = this.#c.meta.onChange(change => {
      for (const ino of change.xattrs) this.enqueue(ino)
      // Stripes waiting here that changed (another device re-encoded or rewrote them): looked at again.
      for (const ino of change.content) if (this.#waiting.has(ino)) this.#enqueueFile(ino)
    })
    if (this.#surveyIntervalMs > 0) this.#scheduleSurvey(this.#surveyDelayMs)
  }

  async stop (): Promise<void> {
    this.#unsubscribe?.()
    clearTimeout(this.#surveyTimer)
    clearTimeout(this.#retryTimer)
    this.#controller.abort(new Error('re-encoder stopped'))
    await this.#worker
  }

  /** Queues a walk of the subtree of `ino` (a folder whose xattrs changed; files are ignored). */
  enqueue (ino: number): void {
    if (this.#controller.signal.aborted) return
    if (this.#queue.size >= MAX_QUEUED) { this.#queue.clear(); this.#queue.add(ROOT_INO) }
    if (!this.#queue.has(ROOT_INO)) this.#queue.add(ino)
    this.#kick()
  }

  /** Starts the worker unless it runs; one that just ended with work queued meanwhile is started again. */
  #kick (): void {
    if (this.#worker != null || this.#controller.signal.aborted) return
    this.#worker = this.#work().finally(() => {
      this.#worker = undefined
      if (this.#queue.size > 0 || this.#files.size > 0) this.#kick()
    })
  }

  /** Walks the whole tree now (the survey) and resolves when the queue is empty (tests). */
  async surveyNow (options: AbortOptions = {}): Promise<void> {
    this.enqueue(ROOT_INO)
    while (this.#worker != null) {
      if (options.signal?.aborted === true) throw options.signal.reason
      await this.#worker
    }
  }

  status (): ReencodeStatus {
    return { stripesWaiting: this.#waitingCount, ...this.#status }
  }

  #scheduleSurvey (ms: number): void {
    this.#surveyTimer = setTimeout(() => {
      this.enqueue(ROOT_INO)
      this.#scheduleSurvey(this.#surveyIntervalMs)
    }, ms)
    this.#surveyTimer.unref()
  }

  /** A file with waiting stripes changed: look at those again. */
  #enqueueFile (ino: number): void {
    this.#files.add(ino)
    this.#kick()
  }

  async #work (): Promise<void> {
    const signal = this.#controller.signal
    while (!signal.aborted && (this.#queue.size > 0 || this.#files.size > 0)) {
      try {
        const file = this.#files.values().next()
        if (!file.done) {
          this.#files.delete(file.value)
          await this.#recheck(file.value, signal)
          continue
        }
        // The whole tree first when it is queued: it covers every other folder.
        const root = this.#queue.has(ROOT_INO) ? ROOT_INO : this.#queue.values().next().value as number
        this.#queue.delete(root)
        await this.#walk(root, signal)
      } catch (err) {
        if (signal.aborted) return
        this.#log.error('re-encoding walk failed: %e', err)
      }
    }
  }

  /** The policy in force for files directly in folder `dir`: its own, else its nearest ancestor's, else the swarm's. */
  async #policyOf (dir: number, signal: AbortSignal): Promise<StripePolicy> {
    let ino = dir
    for (let depth = 0; depth < 4096; depth++) {
      const own = storedPolicy(await this.#c.meta.getxattr(ino, XATTR_POLICY, { signal }))
      if (own != null) return own
      if (ino === ROOT_INO) break
      const parent = await this.#c.meta.parentOf(ino, { signal })
      if (parent === ino) break
      ino = parent
    }
    return this.#c.policy
  }

  /** Walks the subtree of folder `root`, re-encoding the stripes this device is responsible for. */
  async #walk (root: number, signal: AbortSignal): Promise<void> {
    let attr
    try {
      attr = await this.#c.meta.getattr(root, { signal })
    } catch { return } // gone meanwhile
    if (attr.type !== 'dir') return
    const started = performance.now()
    const before = { done: this.#status.stripesReencoded, failed: this.#status.reencodeFailures }
    const stack: Array<[number, StripePolicy]> = [[root, await this.#policyOf(root, signal)]]
    let files = 0
    while (stack.length > 0 && !signal.aborted) {
      const [dir, policy] = stack.pop() as [number, StripePolicy]
      for (let cookie = 0; ;) {
        const entries = await this.#c.meta.readdir(dir, cookie, PAGE, { signal }).catch(() => [])
        for (const e of entries) {
          if (e.type === 'dir') stack.push([e.ino, storedPolicy(await this.#c.meta.getxattr(e.ino, XATTR_POLICY, { signal })) ?? policy])
          else if (e.type === 'file') { files++; await this.#file(e.ino, policy, signal) }
        }
        if (entries.length < PAGE) break
        cookie = entries[entries.length - 1].cookie
      }
    }
    if (root === ROOT_INO && !signal.aborted) this.#status.lastSurveyMs = Date.now()
    const done = this.#status.stripesReencoded - before.done
    const failed = this.#status.reencodeFailures - before.failed
    if (done + failed > 0 || root === ROOT_INO) {
      this.#log('walked %s (%d files) in %d ms: %d stripes re-encoded here, %d failed, %d waiting', root === ROOT_INO ? 'the whole tree' : `folder inode ${root}`, files, Math.round(performance.now() - started), done, failed, this.#waitingCount)
    }
    if (failed > 0) this.#retry(root)
    else if (root === ROOT_INO && !signal.aborted) this.#retryDelayMs = this.#retryMs
  }

  /**
   * Walks `root` again later (stripes whose re-encoding failed: a device away, a timeout): after
   * retryMs, doubling up to an hour while failures go on, back to retryMs after a clean survey.
   */
  #retry (root: number): void {
    if (this.#retryTimer != null || this.#controller.signal.aborted) return
    const ms = this.#retryDelayMs
    this.#retryDelayMs = Math.min(2 * ms, MAX_RETRY_MS)
    this.#retryTimer = setTimeout(() => { this.#retryTimer = undefined; this.enqueue(root) }, ms)
    this.#retryTimer.unref()
  }

  /** Looks at one file's stripes (in pages) against `policy`. */
  async #file (ino: number, policy: StripePolicy, signal: AbortSignal): Promise<void> {
    const stripeSize = await this.#c.meta.stripeSizeOf(ino, { signal }).catch(() => undefined)
    if (stripeSize == null) { this.#setWaiting(ino, []); return }
    const size = (await this.#c.meta.getattr(ino, { signal }).catch(() => undefined))?.size ?? 0
    const count = Math.ceil(size / stripeSize)
    const waiting: Array<[number, StripePolicy]> = []
    let record = false
    for (let from = 0; from < count && !signal.aborted; from += PAGE) {
      const page = await this.#c.meta.getStripes(ino, from, Math.min(count, from + PAGE), { signal }).catch(() => [] as StripeRef[])
      const online = this.#c.online()
      if (from === 0) record = updatesRecord(page[0], storedPolicy(await this.#c.meta.getxattr(ino, XATTR_POLICY, { signal })), this.#c.policy, policy, this.#c.deviceId, online)
      const { all, mine } = stripesToReencode(page, policy, this.#c.deviceId, online)
      const done = await this.#reencodeAll(ino, mine, policy, signal)
      for (const s of all) if (!done.has(s.index)) waiting.push([s.index, policy])
    }
    this.#setWaiting(ino, waiting)
    if (record && !signal.aborted) await this.#record(ino, policy, signal)
  }

  /**
   * Sets the file's own `user.palm.policy` to `policy`, so that its rewrites through the VFS are
   * written at it (not at the policy of its create, to be re-encoded again). An xattr change: the
   * file's ctime moves, its version, size and mtime stay.
   */
  async #record (ino: number, policy: StripePolicy, signal: AbortSignal): Promise<void> {
    try {
      await this.#c.meta.setxattr(ino, XATTR_POLICY, new TextEncoder().encode(`${policy.k}-of-${policy.n}`), {}, { signal })
    } catch (err) {
      if (!signal.aborted) this.#log('could not record policy %d-of-%d on inode %d: %s', policy.k, policy.n, ino, (err as Error).message)
    }
  }

  /** A file whose stripes were waiting changed: which of them still wait (no re-encoding from here). */
  async #recheck (ino: number, signal: AbortSignal): Promise<void> {
    const known = this.#waiting.get(ino)
    if (known == null) return
    const still: Array<[number, StripePolicy]> = []
    for (const [index, policy] of known) {
      const [s] = await this.#c.meta.getStripes(ino, index, index + 1, { signal }).catch(() => [] as StripeRef[])
      if (s != null && s.index === index && needsReencode(s, policy)) still.push([index, policy])
    }
    this.#setWaiting(ino, still)
  }

  #setWaiting (ino: number, list: Array<[number, StripePolicy]>): void {
    this.#waitingCount -= this.#waiting.get(ino)?.size ?? 0
    this.#waiting.delete(ino)
    if (list.length === 0) return
    this.#waitingCount += list.length
    // Past the cap the count still holds; the indices are not kept (the next survey sees them).
    if (this.#waitingCount <= MAX_WAITING) this.#waiting.set(ino, new Map(list))
  }

  /** Re-encodes `stripes` of `ino`, `concurrency` at a time; returns the indices recorded. */
  async #reencodeAll (ino: number, stripes: StripeRef[], policy: StripePolicy, signal: AbortSignal): Promise<Set<number>> {
    const done = new Set<number>()
    let next = 0
    const runner = async (): Promise<void> => {
      while (next < stripes.length && !signal.aborted) {
        const s = stripes[next++]
        // Paced: each stripe's bytes are reserved before it starts, so stripes in flight at once
        // are never a burst past the budget.
        const now = performance.now()
        const startAt = Math.max(now, this.#nextFreeMs)
        this.#nextFreeMs = startAt + (reencodeBytes(s, policy) / this.#bytesPerSecond) * 1000
        if (startAt - now >= 1) await delay(startAt - now, { signal }).catch(() => {})
        if (signal.aborted) return
        if (await this.#reencodeOne(ino, s, policy, signal)) done.add(s.index)
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, stripes.length) }, runner))
    return done
  }

  /** Reads, writes at `policy` and records one stripe; true when the journal took it. */
  async #reencodeOne (ino: number, stripe: StripeRef, policy: StripePolicy, outer: AbortSignal): Promise<boolean> {
    const { signal, clear } = combineSignals([outer], this.#stripeTimeoutMs)
    const file = (await this.#c.meta.pathOf(ino, { signal }).catch(() => undefined)) ?? `inode ${ino}`
    try {
      const data = await this.#c.stripes.read(stripe, { signal, file })
      const placed = await this.#c.stripes.write(data, policy, { signal, file })
      const recorded = await this.#c.meta.reencodeStripe(ino, stripe.index, stripe.id, { index: stripe.index, ...placed }, { signal })
      if (!recorded) {
        this.#log('stripe %d of %s changed while it was re-encoded: the write wins, the new copy is garbage for GC', stripe.index, file)
        return false
      }
      this.#status.stripesReencoded++
      this.#log.trace('stripe %d of %s re-encoded from %d-of-%d to %d-of-%d', stripe.index, file, stripe.k, stripe.n, policy.k, policy.n)
      return true
    } catch (err) {
      if (outer.aborted) return false
      this.#status.reencodeFailures++
      this.#log('could not re-encode stripe %d of %s to %d-of-%d: %s (tried again later)', stripe.index, file, policy.k, policy.n, (err as Error).message)
      return false
    } finally {
      clear()
    }
  }
}
