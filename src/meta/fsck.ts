/**
 * `check()`: the journal against itself. The materialised tables must agree with one another (every
 * entry names an inode, link counts match entries, directories hang from the root, stripes belong
 * to files and lie within them, counters match), and every op of a known author must be sealed:
 * carry its valid signature, or be vouched for by the next op's `prev` hash up to one that does. Read-only; full scans, so for `palm fsck`, not the hot path.
 */
import { throwIfAborted, type AbortOptions } from '../util/abort.js'
import { MAX_LISTED_PROBLEMS } from './constants.js'
import type { Db } from './db.js'
import { readOps } from './reads.js'
import type { JournalCheck, JournalProblem, JournalProblemKind } from './types.js'
import { signingKey } from './author-key.js'
import { LogCheck } from './seal.js'

interface Query { kind: JournalProblemKind, sql: string, message: (r: Record<string, unknown>) => string }

const QUERIES: Query[] = [
  {
    kind: 'dangling-entry',
    sql: 'SELECT d.parent AS ino, d.name, d.ino AS target FROM dentries d LEFT JOIN inodes i ON i.ino=d.ino WHERE i.ino IS NULL',
    message: r => `entry "${String(r.name)}" in directory ${String(r.ino)} names missing inode ${String(r.target)}`
  },
  {
    kind: 'entry-type',
    sql: `SELECT d.ino, d.name, d.type AS dtype, i.type AS itype, p.type AS ptype FROM dentries d JOIN inodes i ON i.ino=d.ino
          LEFT JOIN inodes p ON p.ino=d.parent WHERE d.type<>i.type OR p.type IS NULL OR p.type<>'dir'`,
    message: r => `entry "${String(r.name)}" of inode ${String(r.ino)} says ${String(r.dtype)}, inode is ${String(r.itype)}, parent is ${String(r.ptype ?? 'missing')}`
  },
  {
    kind: 'nlink',
    sql: `SELECT i.ino, i.nlink, (SELECT count(*) FROM dentries d WHERE d.ino=i.ino) AS names FROM inodes i
          WHERE i.type<>'dir' AND i.nlink<>(SELECT count(*) FROM dentries d WHERE d.ino=i.ino) AND NOT (i.nlink=0)`,
    message: r => `inode ${String(r.ino)} has nlink ${String(r.nlink)} but ${String(r.names)} names`
  },
  {
    kind: 'nlink',
    sql: `SELECT i.ino, i.nlink, (SELECT count(*) FROM dentries d WHERE d.parent=i.ino AND d.type='dir') AS subdirs FROM inodes i
          WHERE i.type='dir' AND i.nlink<>2+(SELECT count(*) FROM dentries d WHERE d.parent=i.ino AND d.type='dir')`,
    message: r => `directory ${String(r.ino)} has nlink ${String(r.nlink)} but ${String(r.subdirs)} subdirectories`
  },
  {
    kind: 'dir-entries',
    sql: `SELECT i.ino, i.entries, i.parent, (SELECT count(*) FROM dentries d WHERE d.parent=i.ino) AS n,
          (SELECT group_concat(d.parent) FROM dentries d WHERE d.ino=i.ino) AS parents FROM inodes i WHERE i.type='dir'
          AND (i.entries<>(SELECT count(*) FROM dentries d WHERE d.parent=i.ino)
            OR (i.ino<>1 AND coalesce((SELECT group_concat(d.parent) FROM dentries d WHERE d.ino=i.ino), '')<>CAST(i.parent AS TEXT)))`,
    message: r => `directory ${String(r.ino)} counts ${String(r.entries)} entries (has ${String(r.n)}), parent ${String(r.parent)} (named in ${String(r.parents ?? 'none')})`
  },
  {
    kind: 'unreachable-dir',
    sql: `WITH RECURSIVE reach(ino) AS (SELECT 1 UNION SELECT d.ino FROM dentries d JOIN reach ON d.parent=reach.ino WHERE d.type='dir')
          SELECT i.ino FROM inodes i WHERE i.type='dir' AND i.ino NOT IN (SELECT ino FROM reach)`,
    message: r => `directory ${String(r.ino)} cannot be reached from the root`
  },
  {
    kind: 'orphan',
    sql: 'SELECT ino, size FROM inodes WHERE nlink=0',
    message: r => `inode ${String(r.ino)} (${String(r.size)} bytes) has no names; it is purged at the next start unless a file handle holds it`
  },
  {
    kind: 'stray-stripe',
    sql: `SELECT s.ino, s.idx, i.type, i.size, i.stripe_size FROM stripes s LEFT JOIN inodes i ON i.ino=s.ino
          WHERE i.ino IS NULL OR i.type<>'file' OR s.idx*i.stripe_size>=i.size OR s.length>i.stripe_size`,
    message: r => `stripe ${String(r.idx)} of inode ${String(r.ino)} does not belong (${r.type == null ? 'no such inode' : `${String(r.type)} of ${String(r.size)} bytes, stripes of ${String(r.stripe_size)}`})`
  },
  {
    kind: 'counters',
    sql: `SELECT 0 AS ino, s.files, s.dirs, s.bytes, s.next_ino, s.next_cookie, s.ops,
            (SELECT count(*) FROM inodes WHERE type<>'dir') AS f, (SELECT count(*) FROM inodes WHERE type='dir') AS d,
            (SELECT coalesce(sum(size),0) FROM inodes WHERE type='file' OR type='symlink') AS b, (SELECT coalesce(max(ino),0) FROM inodes) AS mi,
            (SELECT coalesce(max(cookie),0) FROM dentries) AS mc, (SELECT count(*) FROM ops) AS o
          FROM state s WHERE s.files<>f OR s.dirs<>d OR s.bytes<>b OR s.next_ino<=mi OR s.next_cookie<=mc OR s.ops<>o`,
    message: r => `counters files ${String(r.files)}/${String(r.f)}, dirs ${String(r.dirs)}/${String(r.d)}, bytes ${String(r.bytes)}/${String(r.b)}, next ino ${String(r.next_ino)} (max ${String(r.mi)}), next cookie ${String(r.next_cookie)} (max ${String(r.mc)}), ops ${String(r.ops)}/${String(r.o)} (recorded/actual)`
  }
]

export async function checkJournal (db: Db, options: AbortOptions = {}): Promise<JournalCheck> {
  const problems: JournalProblem[] = []
  const counts: Partial<Record<JournalProblemKind, number>> = {}
  const report = (kind: JournalProblemKind, message: string, ino?: number): void => {
    counts[kind] = (counts[kind] ?? 0) + 1
    if (problems.length < MAX_LISTED_PROBLEMS) problems.push(ino === undefined ? { kind, message } : { kind, ino, message })
  }
  for (const q of QUERIES) {
    throwIfAborted(options.signal, 'journal check')
    for (const r of await db.all<Record<string, unknown>>(q.sql)) report(q.kind, q.message(r), typeof r.ino === 'number' && r.ino > 0 ? r.ino : undefined)
  }
  const keys = new Map((await db.all<{ author: string, public_key: Buffer }>('SELECT author, public_key FROM authors')).map(r => [r.author, new Uint8Array(r.public_key)]))
  // Each known author's ops must be sealed: signed, or vouched for by the next op's `prev` (seal.ts).
  const signing = new Map<string, Uint8Array>()
  for (const [author, raw] of keys) {
    const key = signingKey(raw)
    if (key != null) signing.set(author, key)
  }
  const chains = new LogCheck(signing, {
    good: () => {},
    bad: (op, reason) => { report('signature', `op ${op.op.seq}@${op.op.author} (${op.op.kind}): ${reason}`) },
    unsealed: (run) => {
      const last = run[run.length - 1].op
      for (const { op } of run) report('signature', `op ${op.seq}@${op.author} (${op.kind}) is not sealed: no signed op of that device after it vouches for it (its ops up to ${last.seq} were written unsigned, or the rest of their batch never arrived: a pull completes them)`)
    }
  })
  let ops = 0
  for await (const op of readOps(db)) {
    if (++ops % 1000 === 0) throwIfAborted(options.signal, 'journal check')
    chains.add(op)
  }
  chains.end()
  const inodes = (await db.get<{ n: number }>('SELECT count(*) AS n FROM inodes'))?.n ?? 0
  return { ok: problems.length === 0 && Object.keys(counts).length === 0, problems, counts, inodes, ops }
}
