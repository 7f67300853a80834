/**
 * Types of the metadata journal. The truth is an append-only op log (HLC, author, per-author seq,
 * signature); the tree the VFS sees is materialised from it. Every mutating call returns after its
 * op is committed to the journal file (the kernel holds it: a killed daemon loses nothing); `sync()`
 * is the power-loss point. meta never imports chunk, place or net.
 */
import type { AbortOptions } from '../util/abort.js'
import type { SignedOp, WireOp } from './op.js'
import type { MergeReport } from './merge-plan.js'

export type FileType = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block'

/** The root directory's inode number. */
export const ROOT_INO = 1

export interface Attr {
  /** Inode number, 64-bit in the protocol; allocated well below 2^53. */
  ino: number
  type: FileType
  /** Permission bits incl. setuid/setgid/sticky (mask 0o7777); no file type bits. */
  mode: number
  uid: number
  gid: number
  nlink: number
  /** Logical size in bytes (holes included). */
  size: number
  rdev: number
  /** Signed nanoseconds since the epoch. */
  atimeNs: bigint
  mtimeNs: bigint
  ctimeNs: bigint
}

/** One encoded and placed stripe (a file's stripe, or a slice of one): where its fragments are and how to rebuild it. */
export interface StoredStripe {
  /** Data bytes in it. */
  length: number
  /** Encoded-stripe id (chunk layer). */
  id: string
  k: number
  n: number
  codecId: number
  /** Fragment CIDs (string form) by fragment index, length n. */
  fragments: string[]
  /** Device ids holding each fragment, by fragment index (empty array = this device only / unknown). */
  holders: string[][]
}

/** One stripe of a file's manifest: its base (the fields of StoredStripe) and the slices laid over it. */
export interface StripeRef extends StoredStripe {
  /** Stripe number within the file: its base covers bytes [index × stripeSize, index × stripeSize + length) (length ≤ the stripe size). */
  index: number
  /**
   * Small overwrites laid over this stripe (docs/vfs.md, "Small overwrites: slices"), later over
   * earlier; absent or empty: the stripe is its base alone. The base fields above describe the base.
   */
  slices?: SliceRef[]
}

/**
 * One small overwrite of a stripe: bytes [off, off + length) of the stripe, stored as its own
 * CAONT-RS stripe (any k of its n fragments rebuild it, fewer reveal nothing). Structurally a
 * placed stripe plus its offset, so it is stored, read, synced and repaired as one.
 */
export interface SliceRef extends StoredStripe {
  /** Offset of the slice's first byte within its stripe (its bytes: [off, off + length)). */
  off: number
}

/**
 * Slices appended to stripe `index` by a content update, over the stripe its author saw: base
 * `over` with its first `seen` slices. A stripe that another device's concurrent op (earlier in the
 * total order) gave more slices gets the author's view back (those first `seen`, then these); the
 * other version lives on in the conflict copy (docs/journal.md, "Slices").
 */
export interface SliceAppend {
  index: number
  /** Base stripe id the author's slices were laid over. */
  over: string
  /** How many slices that stripe had then. */
  seen: number
  slices: SliceRef[]
}

export interface DirEntry {
  name: string
  ino: number
  type: FileType
  /** Opaque, stable position: pass it back to continue after this entry. Always ≥ 1. */
  cookie: number
}

export interface NodeInit {
  type: FileType
  mode: number
  uid: number
  gid: number
  rdev?: number
  /** Symlink target. */
  target?: string
  /** Creation time (default: now). */
  timeNs?: bigint
}

export interface SetAttr {
  mode?: number
  uid?: number
  gid?: number
  /** Truncate/extend. Stripes wholly past the new size are dropped; the VFS rewrites a cut last stripe with setContent. */
  size?: number
  atimeNs?: bigint
  mtimeNs?: bigint
  /** Default: now whenever anything changes. */
  ctimeNs?: bigint
}

/** A new version of a file's content: the changed stripes only (a manifest delta). */
export interface ContentUpdate {
  size: number
  /** The file's stripe size in bytes; fixed once the file has stripes (a file with none may change it). */
  stripeSize: number
  /** New or replaced stripes. */
  stripes: StripeRef[]
  /** Stripe indexes that become holes (read as zeros). */
  holes?: number[]
  /** Slices appended to stored stripes (none of them in `stripes` or `holes`). */
  addSlices?: SliceAppend[]
  mtimeNs?: bigint
}

/** What `createEarly` returns. */
export interface EarlyCreate {
  /** The new node's attributes. */
  attr: Attr
  /**
   * Commits the create now if it still waits for company (the journal holds early creates for a few
   * ms so that the file's first setContent shares their transaction) and settles with that commit.
   */
  committed: () => Promise<void>
}

export interface RenameFlags {
  /** RENAME_NOREPLACE: fail with ExistsError if the target exists. */
  noReplace?: boolean
  /** RENAME_EXCHANGE: atomically swap the two names (both must exist). */
  exchange?: boolean
}

export interface XattrFlags {
  /** XATTR_CREATE: fail with ExistsError if present. */
  create?: boolean
  /** XATTR_REPLACE: fail with NoDataError if absent. */
  replace?: boolean
}

export interface MetaStats {
  /** Non-directory inodes. */
  files: number
  dirs: number
  /** Sum of file sizes (logical bytes). */
  logicalBytes: number
  /** Ops in the log. */
  ops: number
}

/** What `check()` can find wrong in the journal (for `palm fsck`). */
export type JournalProblemKind =
  /** An entry names an inode that does not exist. */
  | 'dangling-entry'
  /** An entry's type differs from its inode's, or its parent is not a directory. */
  | 'entry-type'
  /** A link count differs from the entries naming the inode (directories: 2 + subdirectories). */
  | 'nlink'
  /** A directory's entry count or parent pointer differs from its entries. */
  | 'dir-entries'
  /** A directory the root does not reach (a cycle or a lost subtree). */
  | 'unreachable-dir'
  /** An inode with no names (normal only while a file is open after unlink). */
  | 'orphan'
  /** A stripe of a missing or non-file inode, or past the file's size. */
  | 'stray-stripe'
  /** The counters behind stats() or the ino/cookie allocators disagree with the tables. */
  | 'counters'
  /** An op whose author's key is known fails signature verification (or is unsigned). */
  | 'signature'

export interface JournalProblem {
  kind: JournalProblemKind
  /** The inode concerned, when there is one. */
  ino?: number
  message: string
}

/** What is wrong with the journal's files (for `palm status`). */
export interface JournalHealth {
  /** True when nothing is wrong. */
  ok: boolean
  /** One sentence per problem, oldest first: damage found (and where it was kept), lost changes. */
  problems: string[]
  /** Changes answered as done whose commit failed, kept in the redo log for the next start. */
  keptInRedo: number
  /** What the last start took from the redo log (file journals). */
  redo?: { applied: number, notApplied: number, damaged: number, keptAt: string[] }
}

export interface JournalCheck {
  /** True when no problem was found. */
  ok: boolean
  /** Problems, at most 1000 listed (see counts for all). */
  problems: JournalProblem[]
  /** Number of problems of each kind found. */
  counts: Partial<Record<JournalProblemKind, number>>
  inodes: number
  ops: number
}

export type { Op, OpBody, SignedOp, WireOp } from './op.js'
export type { MergeReport } from './merge-plan.js'

/** What `applyRemote` did: the merge's report, and the ops left for later. */
export interface RemoteReport extends MergeReport {
  /**
   * Ops after their author's last seal in the batch (seal.ts): no signature received so far
   * vouches for them, so they were not applied; not refused either (they come again with their seal).
   */
  unsealed: Array<{ author: string, seq: number }>
}

/**
 * What one committed batch of the journal changed (the change feed, `MetaStore.onChange`). Local
 * inode numbers of this device. Lists have no duplicates; order means nothing.
 */
export interface JournalChange {
  /** The batch held ops of other authors (replication); false: only this device's own ops. */
  remote: boolean
  /** Inodes whose record (attributes, link count, size, times) changed, was created or removed. */
  inodes: number[]
  /** Directory entries added, removed or replaced (a rename names its old and its new entry). */
  entries: Array<{ parent: number, name: string }>
  /** Files whose content (stripe table) changed: written, truncated, holes punched, or purged. */
  content: number[]
  /** Inodes with an extended attribute set or removed. */
  xattrs: number[]
  /** Membership records changed (admission, removal, re-keying, failure domain): the daemon re-reads them. */
  members?: boolean
}

/** Options of `MetaStore.onChange`. */
export interface ChangeListenerOptions {
  /** Only batches that hold other devices' ops (default false: local batches too, flagged). */
  remoteOnly?: boolean
}

/** An op as the log stores it, undecoded: what replication sends (the body is the signed text). */
export interface StoredOp {
  author: string
  seq: number
  /** The exact signed JSON text. */
  body: string
  /** Ed25519 signature of `body`; undefined in an unsigned journal. */
  sig?: Uint8Array
}

export interface MetaStore {
  start: () => Promise<void>
  stop: () => Promise<void>

  lookup: (parent: number, name: string, options?: AbortOptions) => Promise<Attr | undefined>
  /** NotFoundError if the inode does not exist. Unlinked inodes still held open keep answering. */
  getattr: (ino: number, options?: AbortOptions) => Promise<Attr>
  /** Entries after `cookie` (0 = from the start), at most `limit`, excluding "." and "..". */
  readdir: (ino: number, cookie: number, limit: number, options?: AbortOptions) => Promise<DirEntry[]>
  /** The parent of a directory (the root is its own parent). */
  parentOf: (dirIno: number, options?: AbortOptions) => Promise<number>
  readlink: (ino: number, options?: AbortOptions) => Promise<string>

  /** Creates a node of any type. ExistsError, NotDirectoryError (parent), NotFoundError (parent). */
  create: (parent: number, name: string, init: NodeInit, options?: AbortOptions) => Promise<Attr>
  /**
   * `create` that resolves as soon as the node exists in the journal's view (every reader sees it
   * at once), before its op is committed; `committed` settles with the commit. Commits land in
   * order, so any later call that resolves after its commit (setContent, setattr, rename, …) also
   * means this create is committed. The caller must await `committed()` before it reports the file
   * durable when nothing later was committed (close of an empty file). If the commit fails, the
   * node disappears again and `committed()` rejects (ENOSPC, EIO). While the journal answers from
   * its redo log, `committed()` resolves once the op is in that log, which is the durability close()
   * promises; a commit that fails after that is logged as losing answered changes (docs/durability.md).
   */
  createEarly: (parent: number, name: string, init: NodeInit, options?: AbortOptions) => Promise<EarlyCreate>
  /** A new name for an existing non-directory inode; returns its attr with the new nlink. */
  link: (ino: number, parent: number, name: string, options?: AbortOptions) => Promise<Attr>
  /** Removes a non-directory name; returns the inode's attr after (nlink may be 0: the inode lives until releaseInode). */
  unlink: (parent: number, name: string, options?: AbortOptions) => Promise<Attr>
  /** Removes an empty directory. NotEmptyError, NotDirectoryError. */
  rmdir: (parent: number, name: string, options?: AbortOptions) => Promise<void>
  /**
   * Atomic rename. Replaces a file, or an empty directory by a directory; refuses to move a directory
   * into itself or its descendants (InvalidArgumentError). Returns the replaced inode's attr after
   * (nlink may have reached 0), if any.
   */
  rename: (parent: number, name: string, newParent: number, newName: string, flags?: RenameFlags, options?: AbortOptions) => Promise<{ replaced?: Attr }>
  setattr: (ino: number, set: SetAttr, options?: AbortOptions) => Promise<Attr>

  /** Stripes with index in [from, to), in index order (holes absent). */
  getStripes: (ino: number, from: number, to: number, options?: AbortOptions) => Promise<StripeRef[]>
  /** The file's stripe size, or undefined if it has never had content. */
  stripeSizeOf: (ino: number, options?: AbortOptions) => Promise<number | undefined>
  setContent: (ino: number, update: ContentUpdate, options?: AbortOptions) => Promise<Attr>
  /**
   * Records new holders of fragments of the stripe `index` of `ino` (repair: a `holders` op, not a
   * content change, so it never conflicts with a write). `set`: [fragment index, its CID, devices].
   * Logs nothing when the stripe is no longer `stripeId`, `expectHolders` is given and the stripe's
   * holders (per fragment index) are no longer those, or nothing changes. True when the journal
   * says what was asked (logged now, or so already); false in the first two cases.
   */
  setHolders: (ino: number, index: number, stripeId: string, set: Array<[number, string, string[]]>, options?: AbortOptions & { expectHolders?: string[][] }) => Promise<boolean>
  /**
   * Replaces the stripe `index` of `ino` by `stripe` (the same bytes re-encoded at another k/n: a
   * `reencode` op, not a content change) if it is still the stripe `from`. False, and nothing
   * logged, when it is not (rewritten or re-encoded meanwhile) or the file is gone.
   */
  reencodeStripe: (ino: number, index: number, from: string, stripe: StripeRef, options?: AbortOptions & {
    /**
     * Compaction (docs/vfs.md, "Small overwrites: slices"): `stripe` holds the base `from` with
     * these first slices of it laid over; it applies only while the stripe still starts with them,
     * and keeps the slices after them.
     */
    merged?: string[]
  }) => Promise<boolean>

  getxattr: (ino: number, name: string, options?: AbortOptions) => Promise<Uint8Array | undefined>
  listxattr: (ino: number, options?: AbortOptions) => Promise<string[]>
  setxattr: (ino: number, name: string, value: Uint8Array, flags?: XattrFlags, options?: AbortOptions) => Promise<void>
  /** NoDataError if absent. */
  removexattr: (ino: number, name: string, options?: AbortOptions) => Promise<void>

  /** Drops an inode whose nlink is 0 once nothing holds it (called by the VFS); its stripes become garbage. */
  releaseInode: (ino: number, options?: AbortOptions) => Promise<void>

  stats: () => MetaStats
  /**
   * This journal's clock now (ns): the later of the wall clock and every op stamped or applied
   * here. A device that joins starts its own clock there (MetaStoreInit.clockFloor).
   */
  clockReading: () => bigint
  /** Power-loss point: every committed op is on stable storage when this returns. Group-committed. */
  sync: (options?: AbortOptions) => Promise<void>
  /** Every fragment CID referenced by any live inode (for fsck and GC). */
  referencedFragments: (options?: AbortOptions) => AsyncIterable<string>
  /**
   * Fragments that only undo records still name (a deleted or overwritten version that a late op
   * from another device could bring back): GC keeps them until compactUndo drops those records.
   */
  heldFragments: (options?: AbortOptions & {
    /** What other devices hold (as for compactUndo): only the records a compaction now would keep. */
    vectors?: ReadonlyMap<string, ReadonlyMap<string, number>>
  }) => AsyncIterable<string>
  /**
   * Drops the undo records of ops older than a point every device is known to be past (no op older
   * than it can arrive any more): `beforeHlc`, or by default the point this journal can prove from
   * every other admitted device's newest op held here and the version vectors other devices sent
   * (`vectors`: device → author → highest seq it holds). Returns how many were dropped.
   */
  compactUndo: (known?: { beforeHlc?: bigint, vectors?: ReadonlyMap<string, ReadonlyMap<string, number>> }, options?: AbortOptions) => Promise<number>
  /**
   * Every stored stripe of the tree (for fsck, status and repair): each base, then each of its
   * slices as a StripeRef of the same index (its own id, length, k/n, fragments and holders; no
   * `slices` field), so every walk of fragments sees the slices' too.
   */
  allStripes: (options?: AbortOptions) => AsyncIterable<{ ino: number, stripe: StripeRef }>
  /** A path for an inode, for messages ("/docs/a.txt"); undefined if unlinked. */
  pathOf: (ino: number, options?: AbortOptions) => Promise<string | undefined>

  /** Damage found in the journal's files and changes at risk (for `palm status`). */
  health: () => JournalHealth
  /** Consistency check of the journal's tables and op signatures (for `palm fsck`). Reads only. */
  check: (options?: AbortOptions) => Promise<JournalCheck>
  /** The op log in total order (hlc, author, seq), paged from the database. */
  exportOps: (options?: AbortOptions) => AsyncIterable<SignedOp>
  /**
   * Applies another device's signed op through the same path as local calls (replication).
   * PermissionError for an untrusted author, IntegrityError for a bad signature.
   */
  applyOp: (op: SignedOp, options?: AbortOptions) => Promise<void>
  /**
   * Applies ops of other devices from their signed bytes: bad ones (malformed, untrusted author,
   * bad signature or a broken chain to their seal, a body naming another author or seq than the
   * wire's `author`/`seq`, a gap in the author's seq) are refused in the report, the rest applied
   * in total order with the merge rules; late ones by undo-redo. Ops after their author's last
   * seal in the batch are left out (`unsealed`).
   */
  applyRemote: (ops: WireOp[], options?: AbortOptions) => Promise<RemoteReport>
  /**
   * Admits a device to the swarm's journal with an `admit` op signed by this device: ops signed with
   * `publicKey` are then accepted on every device that trusts this one. Nothing is logged if it is
   * admitted already.
   */
  admit: (device: string, publicKey: Uint8Array, options?: AbortOptions) => Promise<void>
  /**
   * Removes a device from the swarm with a `removeDevice` op signed by this device: from then on
   * its ops are refused and no `admit` op admits it again. Removing it twice logs nothing.
   */
  removeDevice: (device: string, options?: AbortOptions) => Promise<void>
  /** The devices removed from the swarm (their removal committed here). */
  removedDevices: (options?: AbortOptions) => Promise<string[]>
  /** The devices admitted and not removed (their admission committed here). */
  admittedDevices: (options?: AbortOptions) => Promise<string[]>
  /** Declares this device's failure domain with a signed `setDomain` op ('' for none); nothing is logged when the journal has it. */
  setDomain: (domain: string, options?: AbortOptions) => Promise<void>
  /** The failure domains devices declared (device → label). */
  domains: (options?: AbortOptions) => Promise<Map<string, string>>
  /** The latest re-keying the journal records (committed here), or undefined. */
  keyEpoch: (options?: AbortOptions) => Promise<{ epoch: number, keyId: string } | undefined>
  /** Records a re-keying with a `keyEpoch` op signed by this device (the epoch and the key's fingerprint). */
  recordKeyEpoch: (epoch: number, keyId: string, options?: AbortOptions) => Promise<void>
  /** Trusts a device's raw Ed25519 public key for applyOp, on this device only (not replicated). */
  trustAuthor: (author: string, publicKey: Uint8Array) => Promise<void>
  /**
   * Subscribes to the change feed: `listener` is called once per committed batch that changed
   * something, synchronously, after readers see the batch's values (before its callers are
   * answered). Local batches come too, with `remote: false`. A listener must not throw (a throw is
   * logged and ignored) and must not await: work it starts runs after. `remoteOnly` skips local
   * batches (nothing is computed for them then). Returns the unsubscribe.
   */
  onChange: (listener: (change: JournalChange) => void, options?: ChangeListenerOptions) => () => void
  /** Highest committed seq per author (ops 1…n of each author are all held). */
  versionVector: (options?: AbortOptions) => Promise<Map<string, number>>
  /** Committed ops of `author` with seq > `after`, in seq order, at most `limit` (capped at 1000). */
  readOps: (author: string, after: number, limit: number, options?: AbortOptions) => Promise<StoredOp[]>
  /** This device's own signed ops, delivered after each commit in seq order (for replication). Returns the unsubscribe. */
  onOps: (listener: (ops: SignedOp[]) => void) => () => void
}
