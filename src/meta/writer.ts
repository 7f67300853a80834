/**
 * The single writer. Calls are prepared one at a time, in arrival order: each op is applied to the
 * in-memory view (loading what it needs from the database, then applying again), and joins the open
 * batch. At most one batch commits at a time; everything prepared meanwhile forms the next one
 * (group commit). With a redo log (a journal file), every applied op is also appended to it with one
 * write(2), and a local call resolves right after that append: it then survives a killed daemon,
 * and batches without a waiting caller commit up to EARLY_COMMIT_DELAY_MS later, several calls per
 * transaction. Without one (':memory:', or when the disk is nearly full) a call resolves after its
 * batch is committed. A failed commit rejects its batch and the one behind it (they may depend on
 * it), drops every uncommitted change, the committed cache and their redo frames, so memory never
 * runs ahead of the disk; a failure other than a full disk also turns the journal read-only.
 */
import { InvalidArgumentError, NotSupportedError, ReadOnlyError, type PalmError } from '../errors.js'
import { abortError } from '../util/abort.js'
import { applyOp, type ApplyResult } from './apply.js'
import { Batch, opRowSql, type UnsignedRow } from './batch.js'
import type { Cached } from './cache.js'
import { EARLY_COMMIT_DELAY_MS, MAX_BATCH_OPS, OP_VERSION, SLOW_COMMIT_MS } from './constants.js'
import { OpContext, type Counters } from './context.js'
import { journalError } from './db.js'
import { encodeOp, type Op, type SignedOp } from './op.js'
import type { Applied, Build, Task, WriterInit } from './writer-types.js'

export type { Applied, Build, WriterInit } from './writer-types.js'
import { Miss } from './view.js'

export class Writer {
  readonly #init: WriterInit
  readonly #queue: Task[] = []
  readonly #overlay = new Map<string, { value: Cached, batch: Batch }>()
  #pumping = false
  /** True while the pump is preparing ops synchronously: the open batch is still filling. */
  #filling = false
  #batches = 0
  #open = this.#newBatch()
  #committing?: Promise<void>
  /** The batch being committed (or the last one sealed); done once its commit settled. */
  #sealed?: Batch
  /** An append to the redo log failed: calls wait for their commit until the log is caught up. */
  #redoPaused = false
  #pending: Counters
  #committed: Counters
  #pendingSeq: Map<string, number>
  #committedSeq: Map<string, number>
  #failure?: PalmError
  #idle: Array<() => void> = []
  /** Commits an open batch of early replies that no caller waits for yet (EARLY_COMMIT_DELAY_MS). */
  #deferTimer: NodeJS.Timeout | undefined

  constructor (init: WriterInit) {
    this.#init = init
    this.#pending = init.counters
    this.#committed = init.counters
    this.#pendingSeq = new Map(init.lastSeq)
    this.#committedSeq = new Map(init.lastSeq)
  }

  /** Counters as of the last commit. */
  get committed (): Readonly<Counters> { return this.#committed }

  /** Counters with every applied op (what readers see). */
  get applied (): Readonly<Counters> { return this.#pending }

  /**
   * Resolves once every op applied so far is committed (or its batch failed), committing the open
   * batch now: reads that go to the database (listings by path, fsck, the op log) see them then.
   */
  async barrier (): Promise<void> {
    const b = this.#open.size > 0 ? this.#open : this.#sealed
    if (b == null) return
    this.#kick()
    await new Promise<void>((resolve) => { b.onDone(resolve) })
  }

  /** Last committed seq of `author` (0 if none). */
  lastSeq (author: string): number { return this.#committedSeq.get(author) ?? 0 }

  /** Set when a commit failed in a way that made the journal read-only. */
  get failure (): PalmError | undefined { return this.#failure }

  /** Applies a local call; resolves once its op is committed (or at once if it changed nothing). */
  async local (build: Build, signal?: AbortSignal): Promise<ApplyResult> {
    return await this.#submit({ build, local: new Map(), signal })
  }

  /**
   * Applies a local call and resolves as soon as it is applied to the view, which readers see at
   * once, with a promise of its commit. Batches commit in order, so a later call that waits for
   * its own commit also waits for this one. Errors found while applying reject at once.
   */
  async localEarly (build: Build, signal?: AbortSignal): Promise<Applied> {
    return await new Promise<Applied>((resolve, reject) => {
      let applied = false
      const task: Omit<Task, 'resolve' | 'reject'> = {
        build,
        local: new Map(),
        signal,
        applied: (result) => {
          applied = true
          // Answered from the redo log: durable already, no commit to hurry.
          resolve({ result, committed: async () => { if ((task as Task).answered !== true) this.#kick(); await done } })
        }
      }
      const done: Promise<void> = this.#submit(task).then(() => {})
      done.catch((err: unknown) => { if (!applied) reject(err) })
    })
  }

  /**
   * The uncommitted value of `key` (applied by an op whose batch is not committed yet), if any.
   * Readers look here first, then in the committed cache.
   */
  peek (key: string): Cached | undefined {
    return this.#overlay.get(key)?.value
  }

  /** Resolves when the batch holding the uncommitted value of `key` (if any) has committed or failed. */
  async settled (key: string): Promise<void> {
    const o = this.#overlay.get(key)
    if (o == null) return
    this.#kick()
    await new Promise<void>((resolve) => { o.batch.onDone(resolve) })
  }

  /** Applies an op from another device through the same path. */
  async remote (op: SignedOp, signal?: AbortSignal): Promise<ApplyResult> {
    return await this.#submit({ remote: op, local: new Map(), signal })
  }

  /**
   * Applies an op of the redo log left by the last run (start-up recovery), local or not, through
   * the same path as remote ops: one the database already has (its seq is not above the author's
   * last) is skipped; it is not logged again. Resolves once committed.
   */
  async replay (op: SignedOp): Promise<ApplyResult> {
    return await this.#submit({ remote: op, local: new Map(), replay: true })
  }

  #newBatch (): Batch {
    return new Batch(this.#batches++)
  }

  /** Resolves when every call submitted so far has been committed or failed. */
  async flush (): Promise<void> {
    if (this.#isIdle()) return
    this.#kick()
    await new Promise<void>((resolve) => { this.#idle.push(resolve) })
  }

  /** Someone waits for the open batch: commit it as soon as possible, whatever it holds. */
  #kick (): void {
    // An empty open batch stays as it is: the ops that will fill it need not hurry.
    if (this.#open.size > 0) this.#open.urgent = true
    this.#commitNext()
  }

  async #submit (t: Omit<Task, 'resolve' | 'reject'>): Promise<ApplyResult> {
    if (this.#failure != null) throw this.#failure
    return await new Promise<ApplyResult>((resolve, reject) => {
      // The caller's object itself (localEarly reads `answered` on it later).
      this.#queue.push(Object.assign(t, { resolve, reject }))
      if (!this.#pumping) {
        // Start on a microtask: calls made in the same tick (Promise.all) share the first batch.
        this.#pumping = true
        queueMicrotask(() => { void this.#pump() })
      }
    })
  }

  async #pump (): Promise<void> {
    this.#pumping = true
    this.#filling = true
    try {
      for (let task = this.#queue.shift(); task != null; task = this.#queue.shift()) {
        for (let miss = this.#prepare(task); miss != null; miss = this.#prepare(task)) {
          // Let what is prepared commit while this op waits for the database.
          this.#filling = false
          this.#commitNext()
          const gen = this.#init.cache.readStarted()
          try {
            const value = await this.#init.fetch(miss)
            task.local.set(miss, value)
            this.#init.cache.fill(miss, value, gen)
          } catch (err) {
            task.reject(journalError(err, this.#init.db.path, 'reading it'))
            break
          } finally {
            this.#filling = true
          }
        }
        // Bound the open batch: wait for the commit in flight before preparing more.
        if (this.#open.size >= MAX_BATCH_OPS && this.#committing != null) {
          this.#filling = false
          await this.#committing
          this.#filling = true
        }
      }
    } finally {
      this.#pumping = false
      this.#filling = false
    }
    this.#commitNext()
  }

  /** Applies one task to the view; returns the key to load on a miss, else undefined (task done). */
  #prepare (task: Task): string | undefined {
    if (this.#failure != null) { task.reject(this.#failure); return undefined }
    if (task.signal?.aborted === true) { task.reject(abortError(task.signal, 'journal op')); return undefined }
    const ctx = new OpContext(this.#pending, this.#overlay, this.#init.cache, task.local)
    try {
      if (task.remote != null) this.#applyRemote(ctx, task, task.remote)
      else this.#applyLocal(ctx, task, task.build as Build)
    } catch (err) {
      if (err instanceof Miss) return err.key
      task.reject(err)
    }
    return undefined
  }

  #applyLocal (ctx: OpContext, task: Task, build: Build): void {
    const { author, hlc } = this.#init
    const physical = hlc.physical()
    const seq = (this.#pendingSeq.get(author) ?? 0) + 1
    const built = build(ctx)
    if (built == null) { task.applied?.({}); task.resolve({}); return }
    const { body, time } = built
    const op = { v: OP_VERSION, hlc: 0n, author, seq, time: time ?? physical, ...body } as Op
    const result = applyOp(ctx, op)
    if (ctx.empty) {
      // Nothing changed: nothing to log. Answer after the state it was judged on is committed.
      task.applied?.(result)
      // Judged on logged state (answer now) or on committed state only.
      if (this.#overlay.size === 0 || this.#mayAnswerEarly(task)) task.resolve(result)
      else {
        this.#open.waiters.push({ waiter: task, result })
        if (task.applied == null) this.#open.urgent = true
      }
      return
    }
    op.hlc = hlc.tick(physical)
    const text = encodeOp(op)
    // Signed when the batch is sealed: an early reply does not wait for the signature.
    const row: string | UnsignedRow = this.#init.sign == null && this.#init.signAsync == null
      ? opRowSql(author, seq, op.hlc, op.kind, text, undefined)
      : { author, seq, hlc: op.hlc, kind: op.kind, text }
    this.#merge(ctx, task, result, op, row, { text })
    task.applied?.(result)
  }

  #applyRemote (ctx: OpContext, task: Task, signed: SignedOp): void {
    const op = signed.op
    const last = this.#pendingSeq.get(op.author) ?? 0
    // Already applied (a peer sent it twice): nothing to do.
    if (op.seq <= last) { task.resolve({}); return }
    if (op.seq !== last + 1) throw new InvalidArgumentError(`op ${op.seq}@${op.author} arrived before ops ${last + 1}…${op.seq - 1} of that device: fetch those first`)
    if (op.hlc <= this.#pending.appliedHlc) {
      throw new NotSupportedError(`op ${op.seq}@${op.author} is older than ops already applied here; applying it needs undo/redo, which this journal does not do yet`)
    }
    const result = applyOp(ctx, op)
    this.#init.hlc.observe(op.hlc)
    this.#merge(ctx, task, result, op, opRowSql(op.author, op.seq, op.hlc, op.kind, signed.body, signed.sig), { text: signed.body, sig: signed.sig })
  }

  /** A local call may be answered before its commit: its op and every one before it are logged. */
  #mayAnswerEarly (task: Task): boolean {
    return this.#init.redo != null && !this.#redoPaused && task.remote == null && (this.#init.earlyReplies?.() ?? true)
  }

  /** Appends the op to the redo log; false when it could not be (the caller waits for the commit). */
  #log (b: Batch, rec: { text: string, sig?: Uint8Array }): boolean {
    const redo = this.#init.redo
    if (redo == null || this.#redoPaused) return false
    try {
      b.redoStart ??= redo.position()
      redo.append(rec, b.id)
      return true
    } catch (err) {
      this.#redoPaused = true
      this.#init.log.error('appending to the redo log failed; calls now wait for their commits: %e', err)
      return false
    }
  }

  #merge (ctx: OpContext, task: Task, result: ApplyResult, op: Op, row: string | UnsignedRow, rec: { text: string, sig?: Uint8Array }): void {
    const b = this.#open
    for (const [k, value] of ctx.staged) {
      this.#overlay.set(k, { value, batch: b })
      b.changes.set(k, value)
    }
    b.stmts.push(row)
    for (const s of ctx.stmts) b.stmts.push(s)
    for (const ino of ctx.releasedInos) b.released.add(ino)
    for (const ino of ctx.createdInos) b.created.push(ino)
    this.#pending = { ...ctx.counters, ops: ctx.counters.ops + 1, appliedHlc: op.hlc }
    this.#pendingSeq.set(op.author, op.seq)
    b.lastSeq.set(op.author, op.seq)
    b.waiters.push({ waiter: task, result })
    const logged = task.replay !== true && this.#log(b, rec)
    if (logged && this.#mayAnswerEarly(task)) {
      // In the redo log: it survives a killed daemon. The batch commits without hurry.
      task.answered = true
      task.resolve(result)
    } else if (task.applied == null) {
      // A caller waits for this commit (an early create may wait for company).
      b.urgent = true
    }
    if (b.size >= MAX_BATCH_OPS) b.urgent = true
  }

  /** Starts committing the open batch unless a commit is in flight or the pump is still filling it. */
  #commitNext (): void {
    if (this.#committing != null || this.#filling) return
    const b = this.#open
    if (b.size === 0) { this.#notifyIdle(); return }
    if (!b.urgent && this.#idle.length === 0) {
      // Only early replies so far: wait a little for the call that will need the commit (a
      // file's setContent at close), so that both land in one transaction.
      if (this.#deferTimer == null) {
        this.#deferTimer = setTimeout(() => {
          this.#deferTimer = undefined
          this.#kick()
        }, EARLY_COMMIT_DELAY_MS)
        // stop() flushes (and so commits) whatever is open: the timer need not hold the process.
        this.#deferTimer.unref()
      }
      return
    }
    if (this.#deferTimer != null) {
      clearTimeout(this.#deferTimer)
      this.#deferTimer = undefined
    }
    this.#open = this.#newBatch()
    this.#sealed = b
    b.counters = this.#pending
    if (b.empty) {
      this.#committed_(b)
      return
    }
    const started = performance.now()
    // Sealing signs the ops (a failure there fails the batch like a failed commit).
    this.#committing = this.#seal(b).then(async (sql) => { await this.#init.db.execBatch(sql); return sql.length }).then(
      (bytes) => {
        this.#committing = undefined
        const ms = performance.now() - started
        if (ms > SLOW_COMMIT_MS) this.#init.log('slow commit: %d ops took %d ms (is the disk of %s overloaded?)', b.size, Math.round(ms), this.#init.db.path)
        else this.#init.log.trace('committed %d ops (%d bytes of SQL) in %d µs', b.size, bytes, Math.round(ms * 1000))
        this.#committed_(b)
      },
      (err) => { this.#committing = undefined; this.#failed(b, err) }
    )
  }

  /**
   * The batch's SQL with every local op signed: on the threadpool when an async signer is given
   * (Ed25519 costs ~30 µs an op, and nobody waits for this commit), else here.
   */
  async #seal (b: Batch): Promise<string> {
    const rows = b.unsigned()
    const sigs = new Map<UnsignedRow, Uint8Array>()
    const { sign, signAsync } = this.#init
    if (rows.length > 0 && signAsync != null) {
      const made = await Promise.all(rows.map(async r => await signAsync(Buffer.from(r.text))))
      rows.forEach((r, i) => sigs.set(r, made[i]))
    } else if (sign != null) {
      for (const r of rows) sigs.set(r, sign(Buffer.from(r.text)))
    }
    return b.toSql(b.counters as Counters, sigs)
  }

  #committed_ (b: Batch): void {
    this.#committed = b.counters as Counters
    for (const [author, seq] of b.lastSeq) this.#committedSeq.set(author, seq)
    this.#init.cache.commit(b.changes, b.created)
    for (const k of b.changes.keys()) {
      if (this.#overlay.get(k)?.batch === b) this.#overlay.delete(k)
    }
    for (const { waiter, result } of b.waiters) waiter.resolve(result)
    b.settle()
    this.#init.onCommitted?.(b)
    const idle = this.#open.size === 0 && this.#queue.length === 0
    this.#init.redo?.committed(b.id, idle)
    if (idle) this.#redoPaused = false
    this.#commitNext()
  }

  #failed (b: Batch, err: unknown): void {
    const error = journalError(err, this.#init.db.path, `committing ${b.size} changes`)
    this.#init.log.error('commit of %d ops failed: %e', b.size, error)
    const behind = this.#open
    this.#open = this.#newBatch()
    // Their ops leave the redo log too: it must not replay what memory and the database dropped.
    const start = b.redoStart ?? behind.redoStart
    if (start != null) this.#init.redo?.rollback(start)
    this.#redoPaused = false
    const answered = b.answered + behind.answered
    if (answered > 0) this.#init.log.error('%d changes already answered as done are lost with this failed commit', answered)
    this.#overlay.clear()
    this.#init.cache.clear()
    // Inode numbers and cookies stay monotonic: an inode applied early (its create answered
    // before the commit) may still be known to the kernel, so its number is never handed out again.
    this.#pending = {
      ...this.#committed,
      nextIno: Math.max(this.#committed.nextIno, this.#pending.nextIno),
      nextCookie: Math.max(this.#committed.nextCookie, this.#pending.nextCookie)
    }
    this.#pendingSeq = new Map(this.#committedSeq)
    if (error.code !== 'ENOSPC') {
      this.#failure = new ReadOnlyError(`metadata journal ${this.#init.db.path} is read-only after a failed commit (${error.message}); fix the disk and restart PALM`, { cause: error, details: { path: this.#init.db.path } })
    }
    for (const { waiter } of b.waiters) waiter.reject(error)
    for (const { waiter } of behind.waiters) waiter.reject(error)
    b.settle()
    behind.settle()
    this.#commitNext()
  }

  #isIdle (): boolean {
    return !this.#pumping && this.#committing == null && this.#queue.length === 0 && this.#open.size === 0
  }

  #notifyIdle (): void {
    if (!this.#isIdle()) return
    for (const resolve of this.#idle.splice(0)) resolve()
  }
}
