/**
 * The `reencode` op (repair after a policy change, docs/repair.md): stripe `index` of `node`,
 * still the stripe `from`, becomes `stripe`: the same bytes encoded at another k/n and placed anew.
 * Like `holders` it is not a content change: the file's version (`ver`), size and times stay, so it
 * never conflicts with a concurrent write. A stripe replaced meanwhile (a write, or another
 * device's re-encoding that came first in the total order) makes it a NotFoundError, which merge
 * mode skips: the re-encoded copy is then garbage for GC, never a loss. The old stripe's fragments
 * become unreferenced and GC frees them after its grace.
 */
import { InvalidArgumentError, NotFoundError } from '../errors.js'
import type { ApplyResult } from './apply.js'
import { fileRec } from './apply.js'
import { checkStripe, copyStripe } from './apply-content.js'
import { MAX_SLICES_PER_STRIPE } from './constants.js'
import { baseOf, mergedLength } from './slices.js'
import type { Call } from './calls.js'
import type { Op } from './op.js'
import type { StripeRef } from './types.js'
import type { ApplyView } from './view.js'

type ReencodeOp = Extract<Op, { kind: 'reencode' }>

/** InvalidArgumentError unless the op's own fields are well formed (the stripe is checked against the file at apply). */
function checkReencodeOp (op: Pick<ReencodeOp, 'node' | 'index' | 'from' | 'stripe' | 'merged'>): void {
  const what = `reencode op for stripe ${String(op.index)} of node ${String(op.node)}`
  if (typeof op.node !== 'string' || op.node === '') throw new InvalidArgumentError(`${what} names no node`)
  if (!Number.isSafeInteger(op.index) || op.index < 0) throw new InvalidArgumentError(`${what} has no valid stripe index`)
  if (typeof op.from !== 'string' || op.from === '') throw new InvalidArgumentError(`${what} names no stripe it replaces`)
  if (op.stripe == null || typeof op.stripe !== 'object' || op.stripe.index !== op.index) throw new InvalidArgumentError(`${what}: its new stripe is not stripe ${String(op.index)}`)
  if (op.stripe.id === op.from) throw new InvalidArgumentError(`${what} replaces stripe ${op.from} by itself`)
  if (op.merged !== undefined) {
    if (!Array.isArray(op.merged) || op.merged.length === 0 || op.merged.length > MAX_SLICES_PER_STRIPE || !op.merged.every(id => typeof id === 'string' && id !== '')) {
      throw new InvalidArgumentError(`${what} must name 1 to ${MAX_SLICES_PER_STRIPE} merged slice ids`)
    }
  }
}

/**
 * The current stripe if it is still `from` (for a compaction: with the `merged` slices first) and
 * `next` may replace it (same index, and the length of what it replaces); NotFoundError when it
 * was replaced (or its slices were, which wastes the compaction: its copy is garbage for GC).
 */
function replaceable (v: ApplyView, ino: number, op: Pick<ReencodeOp, 'index' | 'from' | 'stripe' | 'merged'>, size: number, stripeSize: number): StripeRef {
  const cur = v.stripe(ino, op.index)
  if (cur == null || cur.id !== op.from) {
    throw new NotFoundError(`stripe ${op.index} of inode ${ino} is no longer stripe ${op.from}: it was rewritten or re-encoded already, this re-encoding does not apply`, { details: { ino } })
  }
  const merged = op.merged ?? []
  const slices = cur.slices ?? []
  if (merged.length > slices.length || merged.some((id, i) => slices[i].id !== id)) {
    throw new NotFoundError(`stripe ${op.index} of inode ${ino} no longer starts with the ${merged.length} slices this compaction merged: it does not apply`, { details: { ino } })
  }
  checkStripe(op.stripe, stripeSize, size, ino)
  const length = mergedLength({ length: cur.length, slices: slices.slice(0, merged.length) })
  if (op.stripe.length !== length) throw new InvalidArgumentError(`re-encoded stripe ${op.index} of inode ${ino} holds ${op.stripe.length} bytes, not the ${length} of the stripe it replaces`)
  return cur
}

export function applyReencode (v: ApplyView, op: ReencodeOp): ApplyResult {
  checkReencodeOp(op)
  const rec = fileRec(v, op.node, 'recording a re-encoded stripe')
  const cur = replaceable(v, rec.ino, op, rec.size, rec.stripeSize)
  // Re-encoding keeps every slice (only the base was re-encoded); a compaction keeps those it did
  // not merge (appended after it read the stripe), still laid over the new base.
  const next = copyStripe(baseOf(op.stripe))
  const rest = (cur.slices ?? []).slice(op.merged?.length ?? 0)
  if (rest.length > 0) next.slices = rest
  v.putStripe(rec.ino, next)
  return {}
}

/**
 * Stripe `index` of `ino` becomes `stripe` if it is still `from` (the re-encoder). Nothing is
 * logged when it is not (rewritten meanwhile, or the file is gone): `recorded` is then false.
 */
export function reencodeCall (ino: number, index: number, from: string, stripe: StripeRef, recorded: (yes: boolean) => void, mergedIds?: string[]): Call {
  const next = copyStripe(baseOf(stripe))
  const merged = mergedIds == null ? {} : { merged: [...mergedIds] }
  checkReencodeOp({ node: 'x', index, from, stripe: next, ...merged })
  return {
    build: v => {
      const rec = v.inode(ino)
      const cur = rec?.type === 'file' ? v.stripe(ino, index) : undefined
      if (rec == null || cur == null || cur.id !== from) { recorded(false); return undefined }
      try {
        replaceable(v, ino, { index, from, stripe: next, ...merged }, rec.size, rec.stripeSize)
      } catch (err) {
        // Its slices changed meanwhile: nothing to log (the compaction's copy is garbage for GC).
        if (err instanceof NotFoundError) { recorded(false); return undefined }
        throw err
      }
      recorded(true)
      return { body: { kind: 'reencode', node: rec.node, index, from, stripe: next, ...merged } }
    },
    inodes: [ino],
    entries: []
  }
}
