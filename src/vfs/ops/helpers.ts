/**
 * Pieces several verbs share: checking a name in a directory, creating a node the POSIX way
 * (umask, setgid directories), and telling the kernel about an entry (one lookup reference).
 */
import { ExistsError, NotDirectoryError, NotFoundError } from '../../errors.js'
import type { Attr, FileType, NodeInit, StripeRef } from '../../meta/types.js'
import type { AbortOptions } from '../../util/abort.js'
import { S_ISGID, STRIPE_BATCH } from '../constants.js'
import type { VfsCore } from '../core.js'
import { isDots, nameError } from '../names.js'
import type { VfsContext } from '../types.js'

/** Throws the POSIX error for a bad entry name in `parent` (dots give `dotsError`). */
export function checkEntryName (name: string, parent: number, dotsError?: () => Error): void {
  if (isDots(name) && dotsError != null) throw dotsError()
  const err = nameError(name, () => `directory inode ${parent}`)
  if (err != null) throw err
}

/** The attr of `ino`, which must be a directory. */
export async function requireDir (core: VfsCore, ino: number, options: AbortOptions): Promise<Attr> {
  const attr = await core.meta.getattr(ino, options)
  if (attr.type !== 'dir') {
    throw new NotDirectoryError(`${await core.pathOf(ino)} is not a directory`, { details: { ino } })
  }
  return attr
}

/** The attr of `name` in `parent`, or NotFoundError naming the path. */
export async function requireChild (core: VfsCore, parent: number, name: string, options: AbortOptions): Promise<Attr> {
  const attr = await core.meta.lookup(parent, name, options)
  if (attr == null) throw notFound(parent, name)
  return attr
}

/**
 * NotFoundError for `name` in directory `parent`. Names the directory by inode, not by path: a miss
 * is routine (every create, rsync, git and editors probe names) and the kernel only sees ENOENT,
 * so it must not cost journal queries to build a message nobody reads.
 */
export function notFound (parent: number, name: string): Error {
  return routine(() => new NotFoundError(`"${name}" does not exist in directory inode ${parent}`, { details: { parent, name } }))
}

/**
 * An error that is an answer, not a fault (ENOENT of a lookup, ENODATA of an xattr probe), made
 * without capturing a stack: capturing one cost ~5 µs, paid thousands of times by rsync and git.
 */
export function routine (make: () => Error): Error {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return make()
  } finally {
    Error.stackTraceLimit = limit
  }
}

export interface NodeSpec {
  type: FileType
  /** Permission bits (type bits ignored). */
  mode: number
  rdev?: number
  target?: string
}

/**
 * Creates `name` in `parent` as the caller: mode minus umask (not for symlinks), the parent's gid
 * and setgid bit for directories when the parent is setgid. Counts one kernel lookup on it.
 */
export async function makeNode (core: VfsCore, ctx: VfsContext, parent: number, name: string, spec: NodeSpec, options: AbortOptions): Promise<Attr> {
  return (await makeNodeWith(core, ctx, parent, name, spec, false, options)).attr
}

/**
 * makeNode answered before the journal commit (`meta.createEarly`): for regular files, whose
 * close/fsync waits for `committed` (docs/durability.md).
 */
export async function makeNodeEarly (core: VfsCore, ctx: VfsContext, parent: number, name: string, spec: NodeSpec, options: AbortOptions): Promise<{ attr: Attr, committed: () => Promise<void> }> {
  return await makeNodeWith(core, ctx, parent, name, spec, true, options) as { attr: Attr, committed: () => Promise<void> }
}

async function makeNodeWith (core: VfsCore, ctx: VfsContext, parent: number, name: string, spec: NodeSpec, early: boolean, options: AbortOptions): Promise<{ attr: Attr, committed?: () => Promise<void> }> {
  core.checkWritable(`creating ${name}`)
  checkEntryName(name, parent, () => new ExistsError(`"${name}" always exists in a directory`))
  const dir = await requireDir(core, parent, options)
  const setgid = (dir.mode & S_ISGID) !== 0
  let mode = spec.type === 'symlink' ? 0o777 : spec.mode & 0o7777 & ~ctx.umask
  if (setgid && spec.type === 'dir') mode |= S_ISGID
  const init: NodeInit = {
    type: spec.type,
    mode,
    uid: ctx.uid,
    gid: setgid ? dir.gid : ctx.gid,
    ...(spec.rdev != null ? { rdev: spec.rdev } : {}),
    ...(spec.target != null ? { target: spec.target } : {})
  }
  let made: { attr: Attr, committed?: () => Promise<void> }
  try {
    made = early ? await core.meta.createEarly(parent, name, init, options) : { attr: await core.meta.create(parent, name, init, options) }
  } catch (err) {
    throw await core.wrap(err, parent, `creating "${name}" in`)
  }
  core.inodes.remember(made.attr.ino)
  return made
}

/**
 * Largest stripe-number window one getStripes call covers while skipping holes: bounds a batch to
 * 65,536 refs, and a 2^53-byte sparse file of 4 MiB stripes to ~33,000 queries.
 */
const MAX_WINDOW = 256 * STRIPE_BATCH

/**
 * Calls `fn` with the file's stored stripes in order, in batches (bounded memory). Runs of holes are
 * skipped with growing windows, so a huge sparse file costs few queries.
 */
export async function forEachStripeBatch (core: VfsCore, ino: number, fn: (batch: StripeRef[]) => Promise<void>, options: AbortOptions): Promise<void> {
  const [attr, ss] = await Promise.all([core.meta.getattr(ino, options), core.meta.stripeSizeOf(ino, options)])
  if (ss == null || attr.type !== 'file') return
  const total = Math.ceil(attr.size / ss)
  let window = STRIPE_BATCH
  for (let from = 0; from < total; from += window) {
    const batch = await core.meta.getStripes(ino, from, Math.min(total, from + window), options)
    if (batch.length > 0) await fn(batch)
    window = batch.length === 0 ? Math.min(MAX_WINDOW, window * 2) : STRIPE_BATCH
  }
}
