/**
 * Types of the single writer (writer.ts): a local call's op builder, a queued task, an early answer
 * and the writer's settings.
 */
import type { ApplyResult } from './apply.js'
import type { Batch, Waiter } from './batch.js'
import type { Cached, CommittedCache } from './cache.js'
import type { Counters } from './context.js'
import type { Db } from './db.js'
import type { Hlc } from './hlc.js'
import type { OpBody, SignedOp } from './op.js'
import type { RedoLog } from './redo.js'
import type { ApplyView } from './view.js'
import type { Logger } from '../util/logger.js'

/** A local call: builds its op from the current view (may throw Miss or a PalmError); undefined = nothing to do. */
export type Build = (v: ApplyView) => { body: OpBody, time?: bigint } | undefined

export interface Task extends Waiter {
  build?: Build
  remote?: SignedOp
  /** Records this task loaded from the database (kept across its retries). */
  local: Map<string, Cached>
  signal?: AbortSignal
  /**
   * Called as soon as the op is applied to the view (before its commit): an early reply. Such an
   * op alone does not start a commit at once (see EARLY_COMMIT_DELAY_MS).
   */
  applied?: (result: ApplyResult) => void
  /** An op of the redo log being applied at start: it is in the log already. */
  replay?: boolean
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
  hlc: Hlc
  author: string
  sign?: (bytes: Uint8Array) => Uint8Array
  /** The same signature made off the event loop (preferred when given). */
  signAsync?: (bytes: Uint8Array) => Promise<Uint8Array>
  counters: Counters
  lastSeq: Map<string, number>
  log: Logger
  /** Where applied ops are appended before local calls are answered (file journals). */
  redo?: RedoLog
  /** Whether local calls may be answered once logged, before their commit (default: always). */
  earlyReplies?: () => boolean
  /** Called after each batch is committed (the replication feed of local ops, op-feed.ts). */
  onCommitted?: (b: Batch) => void
}

