/**
 * The single writer. Calls are prepared one at a time, in arrival order: each op is applied to the
 * in-memory view (loading what it needs from the database, then applying again), and joins the open
 * batch. At most one batch commits at a time; everything prepared meanwhile forms the next one
 * (group commit). With a redo log (a journal file), every applied op is also appended to it with one
 * write(2), and a local call resolves right after that append: it then survives a killed daemon,
 * and batches without a waiting caller commit up to EARLY_COMMIT_DELAY_MS later, several calls per
 * transaction. Without one (':memory:', or when the disk is nearly full) a call resolves after its
 * batch is committed. A failed commit rejects its batch and the one behind it (they may depend on
 * it) and drops every uncommitted change and the committed cache, so memory never runs ahead of
 * the disk; a failure other than a full disk also turns the journal read-only. Redo frames of calls
 * already answered are kept (the next start applies them) and the journal turns read-only until
 * then; frames after the last answered one are dropped.
 */
import { InvalidArgumentError, ReadOnlyError, type PalmError } from '../errors.js'
import { abortError } from '../util/abort.js'
import { applyOp, type ApplyResult } from './apply.js'
import { Batch, undoUpdateSql, type BatchSql, type SignedRow, type UnsignedRow } from './batch.js'
import type { Cached } from './cache.js'
import { EARLY_COMMIT_DELAY_MS, MAX_BATCH_OPS, SEAL_MAX_BYTES, SEAL_MAX_OPS, SLOW_COMMIT_MS } from './constants.js'
import { OpContext, type Counters } from './context.js'
import { journalError } from './db.js'
import { blameMerged, isConstraintFailure } from './commit-failure.js'
import { bodyHash, encodeOp, nodeIdOf, opVersionOf, type Op, type SignedOp } from './op.js'
import { entriesOf, nodesOf } from './prefetch.js'
import { applyMerged } from './merge.js'
import { isRangeKey } from './reads.js'
import { decodeUndo } from './undo.js'
import { compareKeys, type MergeReport, type MergeStep, type OpKey } from './merge-plan.js'
import type { RedoPosition } from './redo.js'
import type { Applied, Build, MergeTask, Task, WriterInit } from './writer-types.js'

export type { Applied, Build, WriterInit } from './writer-types.js'
import { indexByIno, key, Miss } from './view.js'

export class Writer {
  readonly #init: WriterInit
  readonly #queue: Task[] = []
  /**
   * The uncommitted changes (the overlay) are the `changes` of at most two batches: the open one and
   * the one being committed (`#inFlight`); the open batch's are the newer. No copy of them is kept:
   * a key per change in a map of its own, with its batch beside it, was garbage the collector had
   * to copy and promote for every op of a catch-up (docs/journal.md, Measurements).
   */
  readonly #overlayView = {
    get: (k: string) => this.#overlayGet(k),
    keysOf: (ino: number) => this.#overlayKeysOf(ino),
    entries: () => this.#overlayEntries()
  }
  /** The last op applied in total order (hlc, author, seq): an op before it arrives late. */
  #lastKey: OpKey
  #pumping = false
  /** True while the pump is preparing ops synchronously: the open batch is still filling. */
  #filling = false
  #batches = 0
  #open = this.#newBatch()
  #committing?: Promise<void>
  /** The batch being committed (or the last one sealed); done once its commit settled. */
  #sealed?: Batch
  /** The batch being committed while its changes are not in the committed cache yet (part of the overlay). */
  #inFlight?: Batch
  /** An append to the redo log failed: calls wait for their commit until the log is caught up. */
  #redoPaused = false
  /** The redo position after the last answered op's frame. */
  #answeredEnd?: RedoPosition
  /** Answered ops whose commit failed: they are only in the redo log, for the next start. */
  #keptInRedo = 0
  #pending: Counters
  #committed: Counters
  #pendingSeq: Map<string, number>
  #committedSeq: Map<string, number>
  /** `bodyHash` of this device's last applied op (its next op's `prev`), and of its last committed one. */
  #pendingPrev: string | undefined
  #committedPrev: string | undefined
  #failure?: PalmError
  #idle: Array<() => void> = []
  /**
   * Every op applied here from `from` on, in total order, with its current undo record: the steps
   * of the last merge. A merge whose ops are late but not older than `from` redoes the ops after
   * them from here, instead of waiting for every commit and reading them back (a device catching
   * up redoes its own newer ops, such as its admission of the peer it pulls from, in every merge).
   * Dropped when a local op is applied after it or a commit fails.
   */
  #recent?: { from: OpKey, steps: MergeStep[] }
  /** Commits an open batch of early replies that no caller waits for yet (EARLY_COMMIT_DELAY_MS). */
  #deferTimer: NodeJS.Timeout | undefined

  constructor (init: WriterInit) {
    this.#init = init
    this.#pending = init.counters
    this.#committed = init.counters
    this.#pendingSeq = new Map(init.lastSeq)
    this.#committedSeq = new Map(init.lastSeq)
    this.#pendingPrev = init.lastHash
    this.#committedPrev = init.lastHash
    this.#lastKey = init.lastKey ?? { hlc: 0n, author: '', seq: 0 }
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

  /** Changes answered as done whose commit failed: kept in the redo log for the next start. */
  get keptInRedo (): number { return this.#keptInRedo }

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
    return this.#overlayGet(key)
  }

  /** Resolves when the batch holding the uncommitted value of `key` (if any) has committed or failed. */
  async settled (key: string): Promise<void> {
    const b = this.#open.changes.has(key) ? this.#open : this.#inFlight?.changes.has(key) === true ? this.#inFlight : undefined
    if (b == null) return
    this.#kick()
    await new Promise<void>((resolve) => { b.onDone(resolve) })
  }

  /**
   * Applies ops of other devices (verified by the caller) in total order (hlc, author, seq), in
   * merge mode (merge.ts: never an error, the same outcome on every device). Ops a device sent
   * twice are counted as duplicates; an op whose author's earlier ops are missing is refused as a
   * gap (the caller pulls them). Ops older than ops applied here are applied by undo-redo: the newer
   * ops are undone with their undo records, the late ops applied, and the newer ones redone, in one
   * batch. Resolves once committed.
   */
  async merge (ops: SignedOp[], signal?: AbortSignal): Promise<MergeReport> {
    const task = { merge: { ops, replay: false } as MergeTask, local: new Map(), signal }
    await this.#submit(task)
    return (task.merge as MergeTask).report as MergeReport
  }

  /**
   * Applies an op of the redo log left by the last run (start-up recovery), local or not, through
   * the merge path: one the database already has (its seq is not above the author's last) is
   * skipped; it is not logged again. Resolves once committed.
   */
  async replay (op: SignedOp): Promise<ApplyResult> {
    const merge: MergeTask = { ops: [op], replay: true }
    await this.#submit({ merge, local: new Map() })
    const refused = merge.report?.refused[0]
    if (refused != null) throw new InvalidArgumentError(`op ${refused.seq}@${refused.author} of the redo log was not applied: ${refused.reason}`)
    return {}
  }

  #newBatch (): Batch {
    return new Batch(this.#batches++)
  }

  /** Resolves when every call submitted so far has been committed or failed. */
  async flush (): Promise<void> {
    if (this.#isIdle()) return
    this.#kick()
    // An empty batch (answered calls that changed nothing) settles inside #kick: idle already.
    if (this.#isIdle()) return
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
        if (task.merge != null && task.merge.plan == null) {
          this.#filling = false
          try {
            await this.#planMerge(task.merge)
          } catch (err) {
            task.reject(journalError(err, this.#init.db.path, 'reading the ops to redo'))
            continue
          }
          try {
            await this.#prefetch(task, (task.merge as MergeTask).plan?.steps ?? [])
          } catch {
            // Only a head start: each op reads what it lacks on its miss, and reports a failure there.
          } finally {
            this.#filling = true
          }
        }
        for (let miss = this.#prepare(task); miss != null; miss = this.#prepare(task)) {
          // Let what is prepared commit while this op waits for the database.
          this.#filling = false
          this.#commitNext()
          try {
            if (isRangeKey(miss)) {
              // Rows of one inode for this task only: read again if a commit landed meanwhile.
              for (;;) {
                const gen = this.#init.cache.readStarted()
                const rows = await this.#init.fetchRange(miss)
                if (gen === this.#init.cache.readStarted()) { task.local.set(miss, { gen, rows }); break }
              }
            } else {
              const gen = this.#init.cache.readStarted()
              const value = await this.#init.fetch(miss)
              task.local.set(miss, value)
              this.#init.cache.fill(miss, value, gen)
            }
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
    if (task.merge != null) return this.#prepareMerge(task, task.merge)
    const ctx = new OpContext(this.#pending, this.#overlayView, this.#init.cache, task.local)
    try {
      this.#applyLocal(ctx, task, task.build as Build)
    } catch (err) {
      if (err instanceof Miss) return err.key
      task.reject(err)
    }
    return undefined
  }

  #applyLocal (ctx: OpContext, task: Task, build: Build): void {
    const { author, hlc } = this.#init
    // Read once per op, not per attempt: an op that waits for a database read (a miss) is stamped
    // as when it came, and with a logical clock (tests) one reading per op keeps runs replayable.
    const physical = task.physical ??= hlc.physical()
    const seq = (this.#pendingSeq.get(author) ?? 0) + 1
    const built = build(ctx)
    if (built == null) { task.applied?.({}); task.resolve({}); return }
    const { body, time } = built
    const op = { v: opVersionOf(body), hlc: 0n, author, seq, time: time ?? physical, ...body } as Op
    if (this.#pendingPrev !== undefined) op.prev = this.#pendingPrev
    ctx.beginOp()
    const result = applyOp(ctx, op)
    const undo = ctx.endOpEncoded()
    if (ctx.empty) {
      // Nothing changed: nothing to log. Answer after the state it was judged on is committed.
      task.applied?.(result)
      // Judged on logged state (answer now) or on committed state only.
      if ((this.#open.changes.size === 0 && this.#inFlight == null) || this.#mayAnswerEarly(task)) task.resolve(result)
      else {
        this.#open.waiters.push({ waiter: task, result })
        if (task.applied == null) this.#open.urgent = true
      }
      return
    }
    op.hlc = hlc.tick(physical)
    const text = encodeOp(op)
    // Signed when the batch is sealed: an early reply does not wait for the signature.
    const row: UnsignedRow | SignedRow = this.#init.sign == null && this.#init.signAsync == null
      ? { author, seq, hlc: op.hlc, kind: op.kind, text, undo, sig: undefined }
      : { author, seq, hlc: op.hlc, kind: op.kind, text, undo }
    this.#lastKey = { hlc: op.hlc, author, seq }
    this.#recent = undefined
    this.#chain(this.#open, text)
    this.#merge(ctx, task, result, op, row, { text })
    task.applied?.(result)
  }

  /** This device's op `text` joins batch `b`: the next one names its hash as `prev`. */
  #chain (b: Batch, text: string): void {
    this.#pendingPrev = bodyHash(text)
    b.lastPrev = this.#pendingPrev
  }

  /** A local call may be answered before its commit: its op and every one before it are logged. */
  #mayAnswerEarly (task: Task): boolean {
    return this.#init.redo != null && !this.#redoPaused && task.merge == null && (this.#init.earlyReplies?.() ?? true)
  }

  /** Appends ops to the redo log (one write); false when they could not be (the caller waits for the commit). */
  #log (b: Batch, ...recs: Array<{ text: string, sig?: Uint8Array }>): boolean {
    const redo = this.#init.redo
    if (redo == null || this.#redoPaused) return false
    try {
      b.redoStart ??= redo.position()
      redo.appendAll(recs, b.id)
      return true
    } catch (err) {
      this.#redoPaused = true
      this.#init.log.error('appending to the redo log failed; calls now wait for their commits: %e', err)
      return false
    }
  }

  #merge (ctx: OpContext, task: Task, result: ApplyResult, op: Op, row: UnsignedRow | SignedRow, rec: { text: string, sig?: Uint8Array }): void {
    const b = this.#open
    this.#stageChanges(ctx, b)
    b.stmts.push(row)
    this.#pending = { ...ctx.counters, ops: ctx.counters.ops + 1, appliedHlc: op.hlc }
    this.#pendingSeq.set(op.author, op.seq)
    b.lastSeq.set(op.author, op.seq)
    b.waiters.push({ waiter: task, result })
    const logged = this.#log(b, rec)
    if (logged && this.#mayAnswerEarly(task)) {
      // In the redo log: it survives a killed daemon. The batch commits without hurry.
      task.answered = true
      this.#answeredEnd = this.#init.redo?.position()
      task.resolve(result)
    } else if (task.applied == null) {
      // A caller waits for this commit (an early create may wait for company).
      b.urgent = true
    }
    if (b.size >= MAX_BATCH_OPS) b.urgent = true
  }

  /** Moves a task's staged changes into the open batch (which makes them part of the overlay). */
  #stageChanges (ctx: OpContext, b: Batch): void {
    if (b.changes.size === 0) {
      // The task is done with its context: its map becomes the batch's (a merge's holds thousands of keys).
      b.adopt(ctx.staged)
      for (const k of ctx.staged.keys()) indexByIno(b.keysByIno, k)
    } else {
      for (const [k, value] of ctx.staged) {
        b.changes.set(k, value)
        indexByIno(b.keysByIno, k)
      }
    }
    for (const ino of ctx.createdInos) b.created.push(ino)
  }

  /** The uncommitted value of `k`: the open batch's, else the one of the batch being committed. */
  #overlayGet (k: string): Cached | undefined {
    // Most lookups find nothing here (the record is committed): an empty batch costs no probe.
    const open = this.#open.changes
    if (open.size > 0) {
      const v = open.get(k)
      if (v !== undefined) return v
    }
    return this.#inFlight?.changes.get(k)
  }

  * #overlayKeysOf (ino: number): Iterable<string> {
    yield * this.#inFlight?.keysByIno.get(ino) ?? []
    yield * this.#open.keysByIno.get(ino) ?? []
  }

  /** Every uncommitted key and value (older batch first; a key changed by both comes twice, the newer value last). */
  * #overlayEntries (): Iterable<[string, Cached]> {
    yield * this.#inFlight?.changes ?? []
    yield * this.#open.changes
  }

  // ---- merges: ops of other devices, late ops by undo-redo -----------------------------------

  /**
   * Sorts a merge's new ops into total order, refusing duplicates and gaps; when the first is older
   * than the last op applied here, waits for every applied op to be committed and reads the newer
   * ops (with their undo records) from the database: they are undone and redone around it.
   */
  async #planMerge (m: MergeTask): Promise<void> {
    const report: MergeReport = { applied: 0, duplicates: 0, renamed: 0, skipped: 0, refused: [] }
    const next = new Map<string, number>()
    const fresh: MergeStep[] = []
    // By author, then seq: each author's ops in order, so a gap is seen as one.
    const byAuthor = [...m.ops].sort((a, b) => a.op.author < b.op.author ? -1 : a.op.author > b.op.author ? 1 : a.op.seq - b.op.seq)
    for (const signed of byAuthor) {
      const { author, seq } = signed.op
      const expect = next.get(author) ?? (this.#pendingSeq.get(author) ?? 0) + 1
      if (seq < expect) { report.duplicates++; continue }
      if (seq > expect) { report.refused.push({ author, seq, reason: `gap: ops ${expect}…${seq - 1} of that device are missing` }); continue }
      next.set(author, seq + 1)
      // The op is its own key (hlc, author, seq): no object more per op to keep until the commit.
      fresh.push({ signed, key: signed.op, fresh: true })
    }
    fresh.sort((a, b) => compareKeys(a.key, b.key))
    m.report = report
    let tail: MergeStep[] = []
    if (fresh.length > 0 && compareKeys(fresh[0].key, this.#lastKey) < 0) {
      const recent = this.#recent
      if (recent != null && compareKeys(fresh[0].key, recent.from) >= 0) {
        // Every op to redo is one the last merge applied: no need to wait for commits and read them back.
        tail = recent.steps.filter(s => compareKeys(s.key, fresh[0].key) > 0).map(s => ({ signed: s.signed, key: s.key, fresh: false, undo: decodeUndo(s.newUndo as string) }))
      } else {
        await this.#drain()
        tail = await this.#init.loadTail(fresh[0].key)
      }
      const old = tail.find(t => t.undo == null)
      if (old != null) {
        report.refused.push(...fresh.map(f => ({ author: f.key.author, seq: f.key.seq, reason: `older than op ${old.key.seq}@${old.key.author}, whose undo record is gone (compacted once every known device had passed it, or logged by an older PALM): copy that device's changes again` })))
        m.plan = { steps: [], tailLength: 0, cursor: 0, undone: true }
        return
      }
    }
    m.plan = { steps: [...fresh, ...tail].sort((a, b) => compareKeys(a.key, b.key)), tailLength: tail.length, tail, cursor: 0, undone: tail.length === 0 }
  }

  /**
   * Loads what a planned merge's ops will read (prefetch.ts) in a few statements, so that the
   * merge does not wait for one database read per op in turn (a device catching up reads an entry
   * per create once its cache no longer holds whole directories). A value that a commit changed
   * while it was read is dropped: the op reads it again on its miss, as any op does.
   */
  async #prefetch (task: Task, steps: MergeStep[]): Promise<void> {
    const { fetchMany, cache } = this.#init
    if (fetchMany == null || steps.length < 2) return
    const known = (k: string): Cached | undefined => this.#overlayGet(k) ?? cache.get(k) ?? task.local.get(k) as Cached | undefined
    const load = async (keys: Set<string>): Promise<void> => {
      if (keys.size === 0) return
      const gen = cache.readStarted()
      for (const [k, v] of await fetchMany([...keys])) {
        if (!cache.unchangedSince(k, gen)) continue
        task.local.set(k, v)
        cache.fill(k, v, gen)
      }
    }
    // Nodes this merge creates are in no table yet.
    const created = new Set<string>()
    for (const { signed: { op } } of steps) if (op.kind === 'create') created.add(nodeIdOf(op.author, op.seq))
    const nodes = new Set<string>()
    for (const { signed: { op } } of steps) {
      for (const n of nodesOf(op)) if (!created.has(n) && known(key.node(n)) === undefined) nodes.add(key.node(n))
    }
    await load(nodes)
    const inoOf = (n: string): number | undefined => {
      const v = known(key.node(n))
      return typeof v === 'number' ? v : undefined
    }
    const records = new Set<string>()
    const want = (k: string): void => { if (known(k) === undefined) records.add(k) }
    for (const { signed: { op } } of steps) {
      for (const n of nodesOf(op)) {
        const ino = inoOf(n)
        if (ino !== undefined) want(key.inode(ino))
      }
      for (const [parent, name] of entriesOf(op)) {
        const ino = inoOf(parent)
        if (ino !== undefined) want(key.dentry(ino, name))
      }
    }
    await load(records)
  }

  /** Waits until every applied op is committed (a merge that undoes ops reads them from the database). */
  async #drain (): Promise<void> {
    for (;;) {
      if (this.#committing != null) { await this.#committing; continue }
      if (this.#open.size === 0) return
      this.#open.urgent = true
      this.#commitNext()
      if (this.#committing == null) return
    }
  }

  /** Runs a planned merge from where it stopped (a Miss loads a record and resumes it). */
  #prepareMerge (task: Task, m: MergeTask): string | undefined {
    const plan = m.plan as NonNullable<MergeTask['plan']>
    if (this.#failure != null) { task.reject(this.#failure); return undefined }
    plan.ctx ??= new OpContext(this.#pending, this.#overlayView, this.#init.cache, task.local)
    const ctx = plan.ctx
    try {
      if (!plan.undone) {
        const tail = plan.tail ?? []
        for (let i = tail.length - 1; i >= 0; i--) ctx.undo(tail[i].undo as NonNullable<MergeStep['undo']>)
        plan.undone = true
      }
      for (; plan.cursor < plan.steps.length; plan.cursor++) {
        const step = plan.steps[plan.cursor]
        ctx.beginOp()
        const outcome = applyMerged(ctx, step.signed.op)
        step.newUndo = ctx.endOpEncoded()
        if (step.fresh) (m.report as MergeReport)[outcome === 'skipped' ? 'skipped' : outcome === 'renamed' ? 'renamed' : 'applied']++
      }
    } catch (err) {
      if (err instanceof Miss) {
        ctx.abortOp()
        // A miss while undoing: start over (undo is cheap and has no partial state worth keeping).
        if (!plan.undone || plan.cursor === 0) { plan.ctx = undefined; plan.undone = (plan.tail ?? []).length === 0; plan.cursor = 0 }
        return err.key
      }
      task.reject(err)
      return undefined
    }
    this.#finishMerge(task, m, ctx)
    return undefined
  }

  #finishMerge (task: Task, m: MergeTask, ctx: OpContext): void {
    const plan = m.plan as NonNullable<MergeTask['plan']>
    const b = this.#open
    this.#stageChanges(ctx, b)
    let ops = ctx.counters.ops
    const logged: Array<{ text: string, sig?: Uint8Array }> = []
    for (const step of plan.steps) {
      const { key: k, signed } = step
      if (!step.fresh) {
        b.merged.push({ author: k.author, seq: k.seq, kind: signed.op.kind, undo: step.newUndo as string })
        b.stmts.push(undoUpdateSql(k.author, k.seq, step.newUndo as string))
        continue
      }
      // One object is the op's row, its entry among the merged ops (a failed commit names it) and its redo record.
      const row: SignedRow = { author: k.author, seq: k.seq, hlc: k.hlc, kind: signed.op.kind, text: signed.body, undo: step.newUndo as string, sig: signed.sig }
      b.merged.push(row)
      b.stmts.push(row)
      this.#pendingSeq.set(k.author, k.seq)
      b.lastSeq.set(k.author, k.seq)
      this.#init.hlc.observe(k.hlc)
      ops++
      if (!m.replay) logged.push(row)
      // This device's own ops come this way from the redo log and in a rebuild.
      if (k.author === this.#init.author) this.#chain(b, signed.body)
      if (compareKeys(k, this.#lastKey) > 0) this.#lastKey = k
    }
    // One write for the merge: a local call answered after it replays after these ops.
    if (logged.length > 0) this.#log(b, ...logged)
    // The steps are every op applied here from the first on (the tail was every op after it).
    if (plan.steps.length > 0) this.#recent = plan.steps.length <= RECENT_MAX_STEPS ? { from: plan.steps[0].key, steps: plan.steps } : undefined
    this.#pending = { ...ctx.counters, ops, appliedHlc: this.#lastKey.hlc }
    b.waiters.push({ waiter: task, result: {} })
    // Answered once committed. (Answering from the redo log, as local calls are, let a puller run
    // ahead of its commits; under load a pull cut mid-way then re-sent much of what it had sent.)
    b.urgent = true
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
    this.#inFlight = b
    const started = performance.now()
    // Sealing signs the ops (a failure there fails the batch like a failed commit).
    this.#committing = this.#seal(b).then(async ({ stmts, bound }) => {
      await this.#init.db.execBatch(stmts, bound)
      let bytes = 0
      for (const s of stmts) bytes += s.length
      for (const s of bound) bytes += s.length
      return bytes
    }).then(
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
   * The batch's SQL with its local ops sealed: the last one signed, and one every SEAL_MAX_OPS ops
   * or SEAL_MAX_BYTES of text before it (seal.ts); the others are vouched for by the chain of
   * `prev` hashes. On the threadpool when an async signer is given (nobody waits for this commit).
   */
  async #seal (b: Batch): Promise<BatchSql> {
    const rows = sealsOf(b.unsigned())
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
    if (b.lastPrev !== undefined) this.#committedPrev = b.lastPrev
    this.#init.cache.commit(b.changes, b.created)
    // Its changes are in the cache now: they leave the overlay.
    if (this.#inFlight === b) this.#inFlight = undefined
    // Change feed hook: readers see this batch now; tell subscribers before its callers are answered.
    this.#init.onCommit?.(b)
    for (const { waiter, result } of b.waiters) waiter.resolve(result)
    b.settle()
    const idle = this.#open.size === 0 && this.#queue.length === 0
    this.#init.redo?.committed(b.id, idle)
    if (idle) this.#redoPaused = false
    this.#commitNext()
  }

  #failed (b: Batch, err: unknown): void {
    const error = journalError(err, this.#init.db.path, `committing ${b.size} changes`)
    this.#init.log.error('commit of %d ops failed: %e', b.size, error)
    // A constraint broken by merged ops is a merge bug, not the disk: it fails the same way on every
    // retry, so the op at fault is named, and the journal stays writable (the ops are refused).
    const mergeBug = b.merged.length > 0 && isConstraintFailure(error)
    if (mergeBug) this.#blame(b, error)
    const behind = this.#open
    this.#open = this.#newBatch()
    const answered = b.answered + behind.answered
    // Unanswered ops leave the redo log: it must not replay what memory and the database dropped.
    // Answered ones stay, up to the last of them: the next start applies them (docs/durability.md).
    const start = answered > 0 ? this.#answeredEnd : b.redoStart ?? behind.redoStart
    if (start != null) this.#init.redo?.rollback(start)
    this.#redoPaused = false
    if (answered > 0) {
      this.#keptInRedo += answered
      this.#init.log.error('%d changes already answered as done could not be committed to %s; they are kept in its redo log and applied at the next start: fix the disk and restart PALM', answered, this.#init.db.path)
    }
    this.#inFlight = undefined
    this.#init.cache.clear()
    this.#recent = undefined
    // Inode numbers and cookies stay monotonic: an inode applied early (its create answered
    // before the commit) may still be known to the kernel, so its number is never handed out again.
    this.#pending = {
      ...this.#committed,
      nextIno: Math.max(this.#committed.nextIno, this.#pending.nextIno),
      nextCookie: Math.max(this.#committed.nextCookie, this.#pending.nextCookie)
    }
    this.#pendingSeq = new Map(this.#committedSeq)
    this.#pendingPrev = this.#committedPrev
    if (this.#keptInRedo > 0) {
      // New ops would take the seqs of the kept ones: nothing more until a restart applies them.
      this.#failure = new ReadOnlyError(`metadata journal ${this.#init.db.path} is read-only: ${this.#keptInRedo} changes answered as done could not be committed (${error.message}); they are kept in its redo log and applied at the next start: fix the disk (free space) and restart PALM`, { cause: error, details: { path: this.#init.db.path, keptInRedo: this.#keptInRedo } })
    } else if (error.code !== 'ENOSPC' && !mergeBug) {
      this.#failure = new ReadOnlyError(`metadata journal ${this.#init.db.path} is read-only after a failed commit (${error.message}); fix the disk and restart PALM`, { cause: error, details: { path: this.#init.db.path } })
    }
    for (const { waiter } of b.waiters) waiter.reject(error)
    for (const { waiter } of behind.waiters) waiter.reject(error)
    b.settle()
    behind.settle()
    this.#commitNext()
  }

  /** Logs which merged op of `b` broke the constraint of `error` (the database as committed before `b`). */
  #blame (b: Batch, error: PalmError): void {
    const constraint = /\w+ constraint failed[^)]*/.exec(error.message)?.[0] ?? error.message
    blameMerged(this.#init.db, constraint, b.changes, b.merged).then(
      (what) => { this.#init.log.error('a merge of %d ops broke a journal constraint (%s): %s; these ops are refused (a merge bug: please report it with this line), the journal stays writable', b.merged.length, constraint, what) },
      (err) => { this.#init.log.error('a merge of %d ops broke a journal constraint (%s); finding the op failed: %e', b.merged.length, constraint, err) }
    )
  }

  #isIdle (): boolean {
    return !this.#pumping && this.#committing == null && this.#queue.length === 0 && this.#open.size === 0
  }

  #notifyIdle (): void {
    if (!this.#isIdle()) return
    for (const resolve of this.#idle.splice(0)) resolve()
  }
}

/** The most steps a merge keeps in memory for the next one (writer.ts `#recent`): a chunk of a catch-up and its tail. */
const RECENT_MAX_STEPS = 8192

/** The local op rows of a batch to sign (its seals): the last, and one every SEAL_MAX_OPS ops or SEAL_MAX_BYTES before it. */
function sealsOf (rows: UnsignedRow[]): UnsignedRow[] {
  const seals: UnsignedRow[] = []
  let ops = 0
  let bytes = 0
  rows.forEach((r, i) => {
    ops++
    bytes += r.text.length
    if (i === rows.length - 1 || ops >= SEAL_MAX_OPS || bytes >= SEAL_MAX_BYTES) {
      seals.push(r)
      ops = 0
      bytes = 0
    }
  })
  return seals
}
