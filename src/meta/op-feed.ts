/**
 * The feed of this device's own ops for replication: after each commit, the batch's local ops
 * (signed text, and the signature on its seals: seal.ts) go to every listener, in seq order, ending
 * on a seal. Fed by the writer's one
 * `onCommit` call (beside the change feed); unsigned journals have nothing to replicate and feed nothing. A listener that
 * throws is logged and never reaches the writer.
 */
import type { Logger } from '../util/logger.js'
import type { Batch } from './batch.js'
import { decodeOp, type SignedOp } from './op.js'

export type OpsListener = (ops: SignedOp[]) => void

export class OpFeed {
  readonly #listeners = new Set<OpsListener>()

  constructor (private readonly log: Logger) {}

  /** Adds a listener; returns its unsubscribe. */
  subscribe (listener: OpsListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /** The writer's hook: hands out the committed batch's signed local ops. */
  committed (b: Batch): void {
    if (this.#listeners.size === 0 || b.sigs == null) return
    const ops: SignedOp[] = []
    // Every local op of the batch; the last one is a seal (signed), which vouches for the others.
    for (const row of b.unsigned()) {
      const sig = b.sigs.get(row)
      ops.push(sig == null ? { op: decodeOp(row.text), body: row.text } : { op: decodeOp(row.text), body: row.text, sig })
    }
    if (ops.length === 0) return
    for (const listener of this.#listeners) {
      try {
        listener(ops)
      } catch (err) {
        this.log.error('a listener of committed ops failed - %e', err)
      }
    }
  }
}
