/**
 * createChunkPool: encode, decode and rebuild on worker threads so the event loop (which serves FUSE) stays
 * free. One worker per core by default; each runs one stripe at a time. Jobs beyond the busy
 * workers wait in a queue of at most `maxQueue`; further callers wait for room (backpressure).
 * A cancelled job leaves the queue at once; one already running is abandoned (its result dropped).
 */
import { availableParallelism } from 'node:os'
import { CID } from 'multiformats/cid'
import { AbortedError, InvalidArgumentError, IoError } from '../errors.js'
import { abortError, throwIfAborted, type AbortOptions } from '../util/abort.js'
import { defaultLogger, type ComponentLogger, type Logger } from '../util/logger.js'
import { Lifecycle } from '../util/startable.js'
import { DEFAULT_RS_ENGINE, isKnownCodec, reedSolomonCodec } from './codec.js'
import { FORMAT_VERSION, INLINE_MAX_STRIPE_BYTES, MAX_STRIPE_SIZE_BYTES } from './constants.js'
import { decodeStripe } from './decode.js'
import { encodeStripe } from './encode.js'
import { rebuildFragments } from './rebuild.js'
import { take, transferList, type Owned } from './ownership.js'
import { WorkerSlots, type Job } from './pool-workers.js'
import { checkPolicy, checkSalt, checkStripe } from './validate.js'
import { isKnownVersion } from './version.js'
import { isHashed, markHashed } from '../util/cid.js'
import type { ChunkPool, Codec, EncodedStripe, Fragment, Policy, PoolDecodeOptions, PoolEncodeOptions, RsEngine, StripeExpectation } from './types.js'
import type { WireExpectation, WorkerReply, WorkerRequest } from './wire.js'

export interface ChunkPoolInit {
  /** The swarm salt (16–64 bytes). Required. */
  salt: Uint8Array
  /** Worker threads. Default: os.availableParallelism(). */
  workers?: number
  /** Jobs that may wait for a free worker; callers beyond that wait for room. Default: 2 × workers. */
  maxQueue?: number
  /** Reed-Solomon engine. Default: DEFAULT_RS_ENGINE ('js'). Output is identical. */
  engine?: RsEngine
  /**
   * Fragment format version of new stripes (docs/chunk-format.md, "Format versions"). Default:
   * FORMAT_VERSION (2). Version 1 for a swarm whose other devices do not read version 2 yet.
   * Decodes and rebuilds always use the version the fragments were written in.
   */
  formatVersion?: number
  /**
   * Stripes of at most this many bytes are done on the calling thread, one per event-loop turn
   * (cheaper than a worker round trip). Default: INLINE_MAX_STRIPE_BYTES (16 KiB); -1 never.
   */
  inlineMaxBytes?: number
  /** Logger factory (namespace palm:chunk:pool). Default: defaultLogger(). */
  logger?: ComponentLogger
}

export interface ChunkPoolStats {
  /** Workers started and ready. */
  workers: number
  /** Jobs running on a worker. */
  busy: number
  /** Jobs waiting for a free worker (≤ maxQueue). */
  queued: number
  /** Callers waiting for room in the queue. */
  waiting: number
  /** Small stripes waiting for or running their turn on the calling thread. */
  inline: number
}

/** The worker-thread ChunkPool, with counters. */
export interface WorkerChunkPool extends ChunkPool {
  stats: () => ChunkPoolStats
}

interface Waiter { wake: () => void, fail: (err: Error) => void }

class ChunkPoolImpl extends Lifecycle implements WorkerChunkPool {
  readonly #log: Logger
  readonly #maxQueue: number
  readonly #slots: WorkerSlots
  readonly #queue: Job[] = []
  readonly #waiters: Waiter[] = []
  readonly #salt: Uint8Array
  readonly #codec: Codec
  readonly #formatVersion: number
  readonly #inlineMaxBytes: number
  #inlineTail: Promise<void> = Promise.resolve()
  #inlinePending = 0
  #nextId = 1
  #running = false
  #stopped = false

  constructor (init: ChunkPoolInit) {
    super()
    checkSalt(init.salt)
    const workers = init.workers ?? availableParallelism()
    const maxQueue = init.maxQueue ?? 2 * workers
    if (!Number.isInteger(workers) || workers < 1) throw new InvalidArgumentError(`chunk pool workers must be a whole number ≥ 1, got ${workers}`)
    if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new InvalidArgumentError(`chunk pool maxQueue must be a whole number ≥ 0, got ${maxQueue}`)
    this.#maxQueue = maxQueue
    this.#log = (init.logger ?? defaultLogger()).forComponent('palm:chunk:pool')
    const engine = init.engine ?? DEFAULT_RS_ENGINE
    this.#codec = reedSolomonCodec(engine) // InvalidArgumentError for an unknown engine, here rather than in every worker
    this.#salt = new Uint8Array(init.salt)
    this.#inlineMaxBytes = init.inlineMaxBytes ?? INLINE_MAX_STRIPE_BYTES
    this.#formatVersion = init.formatVersion ?? FORMAT_VERSION
    if (!isKnownVersion(this.#formatVersion)) throw new InvalidArgumentError(`fragment format version ${String(init.formatVersion)} is not one this palm writes (1 or 2)`)
    const workerInit = { salt: this.#salt, engine, formatVersion: this.#formatVersion }
    this.#slots = new WorkerSlots(workers, workerInit, this.#log, (err) => {
      if (err != null) this.#failAll(err)
      else this.#pump()
    })
  }

  protected async onStart (): Promise<void> {
    await this.#slots.start()
    this.#running = true
    this.#log('started %d chunk workers', this.#slots.ready)
  }

  protected async onStop (): Promise<void> {
    this.#stopped = true
    const err = new AbortedError('the chunk pool was stopped')
    this.#failAll(err)
    await this.#slots.stop(err)
    this.#log('stopped')
  }

  stats (): ChunkPoolStats {
    return { workers: this.#slots.ready, busy: this.#slots.busy, queued: this.#queue.length, waiting: this.#waiters.length, inline: this.#inlinePending }
  }

  async encode (stripe: Uint8Array, policy: Policy, options: PoolEncodeOptions = {}): Promise<EncodedStripe> {
    checkStripe(stripe)
    checkPolicy(policy)
    this.#checkRunning()
    throwIfAborted(options.signal, 'stripe encode')
    // Taken before the first await, so the caller's view is detached (or copied) by the time this returns.
    const owned = take(stripe, options.keepStripe !== true)
    const p = { k: policy.k, n: policy.n }
    let encoded: EncodedStripe
    if (owned.view.length <= this.#inlineMaxBytes) {
      encoded = await this.#inline('stripe encode', options.signal, () => encodeStripe(owned.view, p, this.#salt, this.#codec, this.#formatVersion))
    } else {
      const reply = await this.#run({ id: 0, op: 'encode', stripe: owned.view, policy: p }, transferList([owned]), options)
      const e = reply.encoded
      if (e == null) throw new IoError('chunk worker sent no encoded stripe')
      encoded = { ...e, fragments: e.fragments.map(f => ({ index: f.index, cid: CID.decode(f.cid), bytes: f.bytes })) }
    }
    // Each CID was computed from these very bytes (here or in the worker that moved them here): the
    // store's put need not hash them again (util/cid markHashed).
    for (const f of encoded.fragments) markHashed(f.bytes, f.cid)
    return encoded
  }

  async decode (fragments: Array<{ index: number, bytes: Uint8Array }>, expect: StripeExpectation, options: PoolDecodeOptions = {}): Promise<Uint8Array> {
    const { own, owned, exp, verified } = this.#taken(fragments, expect, 'stripe decode', options)
    if (Number.isInteger(exp.length) && exp.length <= this.#inlineMaxBytes) {
      return await this.#inline('stripe decode', options.signal, () => decodeStripe(own, exp, this.#salt, this.#codecFor(exp), new Set(verified)))
    }
    // The stripe lands in memory this thread allocates (shared, so the worker writes it in place):
    // here new memory comes from the main heap, on huge pages, not from a worker's arena, which
    // took ~1,100 page faults per 4 MiB stripe (docs/performance.md, "Decoded stripes").
    // A length the decode refuses gets no buffer: the worker names the error.
    const into = Number.isInteger(exp.length) && exp.length > 0 && exp.length <= MAX_STRIPE_SIZE_BYTES ? new Uint8Array(new SharedArrayBuffer(exp.length)) : undefined
    const request: WorkerRequest = { id: 0, op: 'decode', fragments: own, expect: exp, verified, into }
    const reply = await this.#run(request, transferList(owned), options)
    if (reply.stripe == null) throw new IoError('chunk worker sent no stripe')
    return reply.stripe
  }

  async rebuild (fragments: Array<{ index: number, bytes: Uint8Array }>, expect: StripeExpectation, wanted: number[], options: PoolDecodeOptions = {}): Promise<Fragment[]> {
    const { own, owned, exp, verified } = this.#taken(fragments, expect, 'fragment rebuild', options)
    let rebuilt: Fragment[]
    if (Number.isInteger(exp.length) && exp.length <= this.#inlineMaxBytes) {
      rebuilt = await this.#inline('fragment rebuild', options.signal, () => rebuildFragments(own, exp, wanted, this.#codecFor(exp), new Set(verified)))
    } else {
      const reply = await this.#run({ id: 0, op: 'rebuild', fragments: own, expect: exp, wanted, verified }, transferList(owned), options)
      if (reply.rebuilt == null) throw new IoError('chunk worker sent no rebuilt fragments')
      rebuilt = reply.rebuilt.map(f => ({ index: f.index, cid: CID.decode(f.cid), bytes: f.bytes }))
    }
    for (const f of rebuilt) markHashed(f.bytes, f.cid)
    return rebuilt
  }

  /** This pool's codec when it can serve `exp` (else decode picks by id). */
  #codecFor (exp: WireExpectation): Codec | undefined {
    return isKnownCodec(exp.codecId ?? this.#codec.id) ? this.#codec : undefined
  }

  /** Checks a decode or rebuild request and takes its fragments (moved or copied, see PoolDecodeOptions). */
  #taken (fragments: Array<{ index: number, bytes: Uint8Array }>, expect: StripeExpectation, what: string, options: PoolDecodeOptions): { own: Array<{ index: number, bytes: Uint8Array }>, owned: Owned[], exp: WireExpectation, verified: number[] } {
    if (!Array.isArray(fragments)) throw new InvalidArgumentError('fragments must be an array of { index, bytes }')
    if (expect == null || typeof expect !== 'object') throw new InvalidArgumentError(`${what} needs the expected stripe { k, n, length } from the manifest`)
    this.#checkRunning()
    throwIfAborted(options.signal, what)
    // Fragments this process already hashed to their expected CID (the store verified them on
    // read) need not be hashed again in the worker; checked before `take` moves them.
    const verified: number[] = []
    fragments.forEach((f, i) => {
      const cid = expect.cids?.[f?.index]
      if (cid != null && typeof cid !== 'string' && f?.bytes instanceof Uint8Array && isHashed(f.bytes, cid)) verified.push(fragments[i].index)
    })
    const moved = new Set<ArrayBufferLike>()
    const owned: Owned[] = fragments.map(f => {
      if (!(f?.bytes instanceof Uint8Array)) throw new InvalidArgumentError(`fragment ${String(f?.index)} has no bytes`)
      // A buffer can be listed for transfer only once: a second view of it is copied.
      const move = options.transferFragments === true && !moved.has(f.bytes.buffer)
      const o = take(f.bytes, move)
      if (move) moved.add(f.bytes.buffer)
      return o
    })
    const own = owned.map((o, i) => ({ index: fragments[i].index, bytes: o.view }))
    // A snapshot: the caller may reuse its objects before the job runs.
    const exp = { k: expect.k, n: expect.n, length: expect.length, codecId: expect.codecId, cids: expect.cids?.map(c => c.toString()) }
    return { own, owned, exp, verified }
  }

  #checkRunning (): void {
    if (this.#stopped) throw new AbortedError('the chunk pool was stopped')
    if (!this.#running) throw new InvalidArgumentError('the chunk pool is not running; call start() first (and check that it succeeded)')
    if (this.#slots.alive === 0) throw new IoError('no chunk worker is left (they died and could not be replaced); see the palm:chunk:pool log and restart palm')
  }

  /**
   * Runs `fn` on this thread: at once when no other inline job is pending, else in a later
   * event-loop turn, one per turn, so a burst of small stripes never holds the loop for more than
   * one stripe (≤ about 0.1 ms).
   */
  async #inline<T> (what: string, signal: AbortSignal | undefined, fn: () => T): Promise<T> {
    // Alone, a job runs at once (waiting for the next turn cost a small file's close ~0.1 ms);
    // in a burst, each later one waits for a turn of its own.
    const alone = this.#inlinePending === 0
    this.#inlinePending++
    const run = this.#inlineTail.then(async () => {
      if (!alone) await new Promise<void>(resolve => { setImmediate(resolve) })
      this.#checkRunning()
      throwIfAborted(signal, what)
      return fn()
    })
    this.#inlineTail = run.then(() => {}, () => {}).finally(() => { this.#inlinePending-- })
    return await run
  }

  async #run (request: WorkerRequest, transfer: ArrayBuffer[], options: AbortOptions): Promise<Extract<WorkerReply, { type: 'result' }>> {
    const signal = options.signal
    while (this.#queue.length >= this.#maxQueue && !this.#slots.hasIdle()) await this.#room(signal)
    this.#checkRunning()
    throwIfAborted(signal, `stripe ${request.op}`)
    request.id = this.#nextId++
    return await new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const at = this.#queue.indexOf(job)
        if (at >= 0) { this.#queue.splice(at, 1); this.#pump() }
        job.fail(abortError(signal as AbortSignal, `stripe ${request.op}`))
      }
      let done = false
      const settle = (): boolean => {
        if (done) return false
        done = true
        signal?.removeEventListener('abort', onAbort)
        return true
      }
      const job: Job = {
        request,
        transfer,
        succeed: (reply) => { if (settle()) resolve(reply) },
        fail: (err) => { if (settle()) reject(err) },
        get settled () { return done }
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#queue.push(job)
      this.#pump()
    })
  }

  async #room (signal: AbortSignal | undefined): Promise<void> {
    throwIfAborted(signal, 'waiting for the chunk pool')
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const at = this.#waiters.indexOf(waiter)
        if (at >= 0) this.#waiters.splice(at, 1)
        reject(abortError(signal as AbortSignal, 'waiting for the chunk pool'))
      }
      const waiter: Waiter = {
        wake: () => { signal?.removeEventListener('abort', onAbort); resolve() },
        fail: (err) => { signal?.removeEventListener('abort', onAbort); reject(err) }
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiters.push(waiter)
    })
  }

  #failAll (err: Error): void {
    for (const w of this.#waiters.splice(0)) w.fail(err)
    for (const job of this.#queue.splice(0)) job.fail(err)
  }

  /** Hands queued jobs to idle workers, then lets as many waiting callers in as there is room. */
  #pump (): void {
    while (this.#queue.length > 0 && this.#slots.hasIdle()) {
      const job = this.#queue.shift() as Job
      if (!job.settled) this.#slots.dispatch(job)
    }
    let room = this.#maxQueue - this.#queue.length + this.#slots.idle
    while (room-- > 0 && this.#waiters.length > 0) this.#waiters.shift()?.wake()
  }
}

/**
 * A pool of chunk workers. Call start() before use and stop() when done (workers keep the process
 * alive). encode() moves the stripe to a worker unless `keepStripe` is set (see PoolEncodeOptions);
 * errors come back as the same typed errors encodeStripe/decodeStripe throw. Throws
 * InvalidArgumentError for a bad salt, workers or maxQueue.
 */
export function createChunkPool (init: ChunkPoolInit): WorkerChunkPool {
  return new ChunkPoolImpl(init)
}
