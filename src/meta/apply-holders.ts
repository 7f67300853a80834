/**
 * The `holders` op (repair, docs/repair.md): which devices hold some fragments of one stripe now.
 * It is not a content change: the file's version (`ver`), size and times stay, so it never
 * conflicts with a concurrent write. It applies only to the stripe it names (`stripe`, the stripe
 * id) at (`node`, `index`): a stripe replaced meanwhile (another write) makes it a NotFoundError,
 * which merge mode skips; an entry whose fragment CID is not the stripe's at that index is left out.
 * The holder list of each named fragment is replaced, so two repairs of one stripe resolve by total
 * order (the later wins; the earlier's copy is an extra copy, never a loss). An id may name the
 * base and slices of the stripe at once (equal bytes, equal id): each of them is updated.
 */
import { InvalidArgumentError, NotFoundError } from '../errors.js'
import type { ApplyResult } from './apply.js'
import { fileRec } from './apply.js'
import type { Op } from './op.js'
import type { SliceRef } from './types.js'
import type { ApplyView } from './view.js'

type HoldersOp = Extract<Op, { kind: 'holders' }>

/** Most devices named for one fragment. */
const MAX_HOLDERS = 16
const MAX_DEVICE_ID = 128

const isDevice = (d: unknown): boolean => typeof d === 'string' && d !== '' && d.length <= MAX_DEVICE_ID

/** InvalidArgumentError unless `op` is a well-formed holders op (any device checks the same). */
export function checkHoldersOp (op: Pick<HoldersOp, 'node' | 'index' | 'stripe' | 'set'>): void {
  const what = `holders op for stripe ${String(op.index)} of node ${String(op.node)}`
  if (typeof op.node !== 'string' || op.node === '') throw new InvalidArgumentError(`${what} names no node`)
  if (!Number.isSafeInteger(op.index) || op.index < 0) throw new InvalidArgumentError(`${what} has no valid stripe index`)
  if (typeof op.stripe !== 'string' || op.stripe === '') throw new InvalidArgumentError(`${what} names no stripe id`)
  if (!Array.isArray(op.set) || op.set.length === 0 || op.set.length > 255) throw new InvalidArgumentError(`${what} must list 1 to 255 fragments`)
  const seen = new Set<number>()
  for (const e of op.set) {
    if (!Array.isArray(e) || e.length !== 3 || !Number.isInteger(e[0]) || e[0] < 0 || e[0] > 254 || typeof e[1] !== 'string' || e[1] === '' ||
      !Array.isArray(e[2]) || e[2].length === 0 || e[2].length > MAX_HOLDERS || !e[2].every(isDevice)) {
      throw new InvalidArgumentError(`${what}: an entry is not [fragment index, CID, 1 to ${MAX_HOLDERS} device ids]`)
    }
    if (seen.has(e[0])) throw new InvalidArgumentError(`${what} lists fragment ${e[0]} twice`)
    seen.add(e[0])
  }
}

/** The stripe (or slice) with the op's holders; undefined when none of its entries applies (nothing changes). */
export function withHolders<S extends { n: number, fragments: string[], holders: string[][] }> (cur: S, set: HoldersOp['set']): S | undefined {
  const holders = cur.holders.length === cur.n ? cur.holders.map(h => [...h]) : Array.from({ length: cur.n }, () => [] as string[])
  let changed = false
  for (const [i, cid, devices] of set) {
    if (i >= cur.n || cur.fragments[i] !== cid) continue
    const next = [...new Set(devices)]
    if (next.join('\n') === holders[i].join('\n')) continue
    holders[i] = next
    changed = true
  }
  return changed ? { ...cur, holders } : undefined
}

export function applyHolders (v: ApplyView, op: HoldersOp): ApplyResult {
  checkHoldersOp(op)
  const rec = fileRec(v, op.node, 'recording new fragment holders')
  const cur = v.stripe(rec.ino, op.index)
  // The op names the base stripe, or slices (each stored, and repaired, as a stripe). Ids are
  // convergent: every part of that id is the same fragments, so each takes the holders.
  const slices: SliceRef[] = cur?.slices ?? []
  if (cur == null || (cur.id !== op.stripe && !slices.some(x => x.id === op.stripe))) {
    throw new NotFoundError(`stripe ${op.index} of inode ${rec.ino} is no longer stripe ${op.stripe} nor has a slice of that id: it was rewritten, the repair's holders do not apply`, { details: { ino: rec.ino } })
  }
  let changed = false
  const base = cur.id === op.stripe ? withHolders(cur, op.set) : undefined
  if (base != null) changed = true
  const nextSlices = slices.map((x) => {
    const next = x.id === op.stripe ? withHolders(x, op.set) : undefined
    if (next == null) return x
    changed = true
    return next
  })
  if (!changed) return {}
  const next = { ...(base ?? cur) }
  if (slices.length > 0) next.slices = nextSlices
  v.putStripe(rec.ino, next)
  return {}
}
