/**
 * What a failed commit of merged ops says (writer.ts): the constraint SQLite names, and the op that
 * wrote the row breaking it. Merges are deterministic: a merge bug fails again on every retry and on
 * every device that applies the same ops, so one log line must be enough to find it.
 */
import type { Cached } from './cache.js'
import { ABSENT } from './cache.js'
import type { Db } from './db.js'
import type { InodeRec } from './records.js'

/** An op a merge applied or redid in a batch, with the undo record of that application. */
export interface MergedOp {
  author: string
  seq: number
  kind: string
  undo: string
}

/** Ops named at most in a line (a batch may hold thousands). */
const MAX_NAMED = 4

/** True when SQLite refused the batch for a constraint (a bug in what was applied, not the disk). */
export function isConstraintFailure (err: unknown): boolean {
  const e = err as { details?: { sqlite?: unknown }, message?: unknown }
  return e?.details?.sqlite === 'SQLITE_CONSTRAINT' || (typeof e?.message === 'string' && e.message.includes('constraint failed'))
}

/**
 * The ops of `merged` that break the constraint, as far as the database shows it: for inodes.node,
 * the inode rows whose node id another inode holds in the database (and keeps after the batch),
 * named by the first op of the batch that wrote them; else the merge's ops by author and seq range.
 */
export async function blameMerged (db: Db, message: string, changes: ReadonlyMap<string, Cached>, merged: MergedOp[]): Promise<string> {
  const found: string[] = []
  if (message.includes('inodes.node')) {
    const rows = new Map<string, number>()
    for (const [k, v] of changes) if (k.charCodeAt(0) === 0x69 && v !== ABSENT) rows.set((v as InodeRec).node, (v as InodeRec).ino)
    const nodes = [...rows.keys()]
    for (let i = 0; i < nodes.length && found.length < MAX_NAMED; i += 500) {
      const part = nodes.slice(i, i + 500)
      const held = await db.all<{ ino: number, node: string }>(`SELECT ino,node FROM inodes WHERE node IN (${part.map(() => '?').join(',')})`, part)
      for (const { ino, node } of held) {
        const mine = rows.get(node) as number
        const after = changes.get(`i${ino}`)
        // Not a clash when the batch gives that row another node id or removes it.
        if (ino === mine || after === ABSENT || (after !== undefined && (after as InodeRec).node !== node)) continue
        // The first op of the batch that wrote the row (later ones kept its node id).
        const by = merged.find(o => o.undo.includes(`["i${mine}",`))
        found.push(`node ${node} written at inode ${mine}${by == null ? '' : ` by op ${by.seq}@${by.author} (${by.kind})`} is inode ${ino}'s in the database`)
        if (found.length >= MAX_NAMED) break
      }
    }
  }
  if (found.length > 0) return found.join('; ')
  return `the merge's ops: ${ranges(merged)}`
}

/** `dev-0 3…40 (38 ops), dev-1 7` */
function ranges (ops: MergedOp[]): string {
  const by = new Map<string, { lo: number, hi: number, n: number }>()
  for (const o of ops) {
    const r = by.get(o.author)
    if (r == null) by.set(o.author, { lo: o.seq, hi: o.seq, n: 1 })
    else { r.lo = Math.min(r.lo, o.seq); r.hi = Math.max(r.hi, o.seq); r.n++ }
  }
  return [...by].map(([a, r]) => r.n === 1 ? `${a} ${r.lo}` : `${a} ${r.lo}…${r.hi} (${r.n} ops)`).join(', ')
}
