/**
 * Types of the single writer (writer.ts): a local call's op builder, a queued task, an early answer
 * and the writer's settings.
 */
import type { ApplyResult } from './apply.js'
import type { Batch, Waiter } from './batch.js'
import type { Cached, CommittedCache, Loaded, RangeRows } from './cache.js'
import type { Counters, OpContext } from './context.js'
import type { MergeReport, MergeStep, OpKey } from './merge-plan.js'
import type { Db } from './db.js'
import type { Hlc } from './hlc.js'
import type { OpBody, SignedOp } from './op.js'
import type { RedoLog } from './redo.js'
import type { ApplyView } from './view.js'
import type { Logger } from '../util/logger.js'

/** A local call: builds its op from the current view (may throw Miss or a PalmError); undefined = nothing to do. */
export type Build = (v: ApplyView) => { body: OpBody, time?: bigint } | undefined

/** Ops of other devices (or of the redo log at start) to apply in merge mode. */
export interface MergeTask {
  ops: SignedOp[]
  /** From the redo log: already in it, not appended again. */
  replay: boolean
  report?: MergeReport
  /** Set once the ops are sorted and the ops to redo are read. */
  plan?: {
    steps: MergeStep[]
    /** The ops of the log to undo first (ascending), when some new op is late. */
    tail?: MergeStep[]
    tailLength: number
    /** Next step to apply (a Miss resumes here). */
    cursor: number
    undone: boolean
    ctx?: OpContext
  }
}

export interface Task extends Waiter {
  build?: Build
  merge?: MergeTask
  /** Records this task loaded from the database (kept across its retries). */
  local: Map<string, Loaded>
  /** The clock's reading for a local op, taken at its first attempt (kept across its retries). */
  physical?: bigint
  signal?: AbortSignal
  /**
   * Called as soon as the op is applied to the view (before its commit): an early reply. Such an
   * op alone does not start a commit at once (see EARLY_COMMIT_DELAY_MS).
   */
  applied?: (result: ApplyResult) => void
}

/** An op applied to the view, not necessarily committed yet. */
export interface Applied {
  result: ApplyResult
  /**
   * Starts the op's commit now if it is still waiting for company (see EARLY_COMMIT_DELAY_MS) and
   * resolves once it is committed; rejects if that commit failed (the op is then undone). The
   * promise is already marked handled: a caller that never calls this causes no unhandled rejection.
   */
  committed: () => Promise<void>
}

export interface WriterInit {
  db: Db
  cache: CommittedCache
  /** Reads a key's committed value from the database. */
  fetch: (key: string) => Promise<Cached>
  /** Reads many `i`, `d` and `n` keys at once (a merge's prefetch; without it each op reads on its miss). */
  fetchMany?: (keys: string[]) => Promise<Map<string, Cached>>
  /** Reads a range key (`S…` stripes, `X…` xattrs of one inode) for one task. */
  fetchRange: (key: string) => Promise<RangeRows['rows']>
  /** The ops after `key` in total order, with their undo records (a late op is applied before them). */
  loadTail: (key: OpKey) => Promise<MergeStep[]>
  /** The last op in total order (default: none). */
  lastKey?: OpKey
  hlc: Hlc
  author: string
  sign?: (bytes: Uint8Array) => Uint8Array
  /** The same signature made off the event loop (preferred when given). */
  signAsync?: (bytes: Uint8Array) => Promise<Uint8Array>
  counters: Counters
  lastSeq: Map<string, number>
  /** `bodyHash` of this device's last op in the log (its next op's `prev`); undefined for none. */
  lastHash?: string
  log: Logger
  /** Where applied ops are appended before local calls are answered (file journals). */
  redo?: RedoLog
  /** Whether local calls may be answered once logged, before their commit (default: always). */
  earlyReplies?: () => boolean
  /**
   * Called once per committed batch, after readers see its values and before its callers are
   * answered (the change feed, change-feed.ts). Must not throw.
   */
  onCommit?: (batch: Batch) => void
}

