/**
 * Application of ops from the log in merge mode: ops of other devices, and ops redone after a late
 * op. Such an op was valid where it was made but may not be here (a concurrent change took its
 * name, removed its source, or would make a cycle), and it must never throw: every device applies
 * the same ops in the same (hlc, author, seq) order with the same rules, so every device reaches the
 * same tree. The rules (docs/journal.md, "Conflicts"):
 * - two mkdirs of one name merge: the later's node id becomes another id of the directory there,
 *   so what was made inside either lands in the one directory;
 * - a create or link whose name is taken keeps both: the op's node gets the conflict name
 *   `NAME (conflict DEVICE YYYY-MM-DD HHMMSS)`, made from the op alone, so every device picks it;
 * - a rename onto a name taken by another node than the one its author saw, or by a version of that
 *   file its author did not see (or any, with RENAME_NOREPLACE), does the same: a concurrent file
 *   there is never replaced unseen;
 * - an unlink of a file written concurrently is skipped: the edit wins over the delete; so is one
 *   that would remove the last name of a file whose author saw it had others (removed concurrently);
 * - a write that names the whole content of a file purged concurrently (deleted and released)
 *   brings it back as a new file at the name its author saw (apply-content.ts `resurrect`);
 * - a create, link or move into a directory removed concurrently brings the directory back where
 *   it was (revive.ts), so nothing made in it is lost;
 * - any other op whose precondition fails is skipped (a move into its own subtree, as in Kleppmann
 *   et al.; an unlink of a name that is gone; an rmdir of a directory that is no longer empty, so
 *   concurrent creates in it survive). A skipped op stays in the log: a late op can make it apply.
 */
import { ExistsError, NotFoundError, PalmError } from '../errors.js'
import { resurrect } from './apply-content.js'
import { applyOp } from './apply.js'
import type { OpContext } from './context.js'
import type { Op } from './op.js'
import { Miss } from './view.js'
import { reviveDir } from './revive.js'
import { CONFLICT_NAMES, conflictName } from './conflict-name.js'

export { conflictName }

export type MergeOutcome = 'applied' | 'renamed' | 'skipped'

/** The same op under its conflict name (the `n`th, when earlier ones are taken), for the kinds that name a new entry. */
function renamed (op: Op, n: number): Op | undefined {
  const named = (name: string): string => conflictName(n === 1 ? name : `${name} ${n}`, op.author, op.time)
  switch (op.kind) {
    case 'create':
    case 'link': return { ...op, name: named(op.name) }
    case 'rename': return op.mode === 'exchange' ? undefined : { ...op, newName: named(op.newName), replaces: '', replacesVer: undefined }
    default: return undefined
  }
}

/** The directory an mkdir found at its name takes the mkdir's node id too (an alias); false if it is not one. */
function mergeDirs (v: OpContext, op: Extract<Op, { kind: 'create' }>): boolean {
  const pIno = v.inoOf(op.parent)
  const d = pIno === undefined ? undefined : v.dentry(pIno, op.name)
  const there = d == null ? undefined : v.inode(d.ino)
  if (there?.type !== 'dir') return false
  const id = `${op.seq}@${op.author}`
  v.mergeNode(id, there.ino)
  // If that directory is removed later (its device saw it empty), ops naming this id bring it back.
  v.putRemovedDir(id, { into: there.node })
  return true
}

/** Runs `fn` in the op's current record; its error (with nothing left staged) when it throws. Miss passes. */
function attempt (v: OpContext, fn: () => unknown): unknown {
  try {
    fn()
    return undefined
  } catch (err) {
    if (err instanceof Miss) throw err
    v.abortOp()
    return err
  }
}

/** Runs `fn` as the op's alternative; false (and nothing staged) when it fails too. */
function guarded (v: OpContext, fn: () => boolean): boolean {
  let ok = false
  if (attempt(v, () => { ok = fn() }) !== undefined) return false
  if (!ok) v.abortOp()
  return ok
}

/** The directory an op puts a name in (create, link, the target of a rename), when `err` says it is gone. */
function goneDir (err: unknown, op: Op): string | undefined {
  if (!(err instanceof NotFoundError) || typeof err.details.node !== 'string') return undefined
  const node = err.details.node
  switch (op.kind) {
    case 'create':
    case 'link': return node === op.parent ? node : undefined
    case 'rename': return node === op.newParent ? node : undefined
    default: return undefined
  }
}

/** Applies `op`, bringing back the directory it puts a name in if that was removed concurrently (revive.ts). */
function applyReviving (v: OpContext, op: Op): unknown {
  const revived: string[] = []
  for (;;) {
    const err = attempt(v, () => {
      for (const node of revived) reviveDir(v, node, op.time)
      applyOp(v, op)
    })
    const node = goneDir(err, op)
    if (node === undefined || revived.includes(node)) return err
    revived.push(node)
  }
}

/** Applies `op` in merge mode inside the context's current op record; never throws but Miss. */
export function applyMerged (v: OpContext, op: Op): MergeOutcome {
  const err = applyReviving(v, op)
  if (err === undefined) return 'applied'
  if (!(err instanceof PalmError)) throw err
  // A whole-file write to a file purged concurrently: the edit survives as a new file.
  if (err instanceof NotFoundError && op.kind === 'setContent') return guarded(v, () => resurrect(v, op)) ? 'renamed' : 'skipped'
  // Two mkdirs of one name merge: the later node id becomes another id of the directory there.
  if (err instanceof ExistsError && op.kind === 'create' && op.type === 'dir' && guarded(v, () => mergeDirs(v, op))) return 'renamed'
  if (!(err instanceof ExistsError)) return 'skipped'
  for (let n = 1; n <= CONFLICT_NAMES; n++) {
    const alt = renamed(op, n)
    if (alt == null) return 'skipped'
    const again = attempt(v, () => applyOp(v, alt))
    if (again === undefined) return 'renamed'
    if (!(again instanceof ExistsError)) return 'skipped'
  }
  return 'skipped'
}
