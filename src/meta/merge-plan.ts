/**
 * The plan of one merge (writer.ts): ops in total order (hlc, author, seq), each either new (to be
 * logged) or an op of the log being redone after a late op, and what the merge reports.
 */
import type { SignedOp } from './op.js'
import type { Undo } from './undo.js'

/** An op's place in the total order. */
export interface OpKey { hlc: bigint, author: string, seq: number }

export function compareKeys (a: OpKey, b: OpKey): number {
  if (a.hlc !== b.hlc) return a.hlc < b.hlc ? -1 : 1
  if (a.author !== b.author) return a.author < b.author ? -1 : 1
  return a.seq - b.seq
}

export interface MergeStep {
  signed: SignedOp
  key: OpKey
  /** A new op (logged by this merge); false: an op of the log redone after a late op. */
  fresh: boolean
  /** An op of the log: its undo record as stored (undefined: logged without one). */
  undo?: Undo
  /**
   * The undo record of this application as stored (encoded). A later merge that redoes this op
   * (writer.ts `#recent`) decodes it: most never need it, and a decoded record per op would stay in
   * memory for the next merge.
   */
  newUndo?: string
}

/** What a merge did with the ops it was given. */
export interface MergeReport {
  /** New ops applied as made. */
  applied: number
  /** New ops applied under a conflict name (their name was taken). */
  renamed: number
  /** New ops logged but without effect (their precondition fails here: merge.ts). */
  skipped: number
  /** Ops this journal had already. */
  duplicates: number
  /** Ops not taken, with the reason (a gap in an author's seq, ops too old to undo past). */
  refused: Array<{ author: string, seq: number, reason: string }>
}
