/**
 * The view ops are applied against: their own staged changes first, then the writer's uncommitted
 * overlay (ops prepared before, not yet committed), then the committed cache, then what the task
 * loaded from the database. A record found nowhere throws Miss. Staged changes reach the overlay
 * only when the whole task succeeded.
 *
 * Every change goes to a typed key (inode, entry, xattr, stripe); the first change of a key by an
 * op records the key's value before it, so each op yields its **undo record** (docs/journal.md):
 * restoring those values in reverse op order undoes ops, which is how ops that arrive late are
 * applied (undo the newer ops, apply, redo).
 */
import { ABSENT, type Cached, type CommittedCache, type Loaded, type RangeRows } from './cache.js'
import type { DentryRec, InodeRec, RemovedDirRec } from './records.js'
import type { StripeRef } from './types.js'
import { indexByIno, key, Miss, type ApplyView } from './view.js'
import { encodeUndoOf, InodeDelta, type Undo } from './undo.js'
import { IntegrityError } from '../errors.js'
import { decodeKeyEpoch, domainRow, encodeDomain, encodeKeyEpoch, isTombstone, KEY_EPOCH_ROW, liveKey, tombstone } from './author-key.js'

/** Counters that every batch snapshots; `lastSeq` is per author (the version vector). */
export interface Counters {
  nextIno: number
  nextCookie: number
  files: number
  dirs: number
  bytes: number
  ops: number
  /** HLC of the last op applied (ns). */
  appliedHlc: bigint
}

export interface Overlay {
  /** The uncommitted value of `key` (ABSENT: removed), undefined when no uncommitted batch changed it. */
  get: (key: string) => Cached | undefined
  /** The uncommitted stripe and xattr keys of an inode (`s<ino>/…`, `x<ino>/…`). */
  keysOf: (ino: number) => Iterable<string> | undefined
  /** Every uncommitted key and value (a scan: for rare paths only). */
  entries: () => Iterable<[string, Cached]>
}

/** What one op changed so far: the values its keys had before it, and its counter deltas. */
interface OpRecord {
  priors: Map<string, Cached>
  /** Staged values before the op (undefined: not staged), to abort a half-applied op. */
  staged: Map<string, Cached | undefined>
  files: number
  dirs: number
  bytes: number
  /** Where the number counters and the created inodes stood when the op began (an abort gives them back). */
  nextIno: number
  nextCookie: number
  created: number
  /** Inode numbers of undone creates that the op took (an abort puts them back). */
  reused: Array<[string, number]>
}

export class OpContext implements ApplyView {
  readonly staged = new Map<string, Cached>()
  /** Inodes this task created (they have no xattrs yet). */
  readonly createdInos: number[] = []
  readonly #created = new Set<number>()
  readonly counters: Counters
  readonly #overlay: Overlay
  readonly #cache: CommittedCache
  readonly #local: Map<string, Loaded>
  /** Stripe and xattr keys staged by this task, by inode (for range reads). */
  readonly #stagedByIno = new Map<number, Set<string>>()
  /** Nodes whose inode numbers were given back by undoing their create: a redo reuses them. */
  readonly #inoOfUndone = new Map<string, number>()
  #op: OpRecord

  constructor (counters: Counters, overlay: Overlay, cache: CommittedCache, local: Map<string, Loaded>) {
    this.counters = { ...counters }
    this.#overlay = overlay
    this.#cache = cache
    this.#local = local
    this.#op = this.#newRecord()
  }

  /** True when applying the task changed nothing (a no-op: nothing to log). */
  get empty (): boolean {
    return this.staged.size === 0
  }

  // ---- per-op records --------------------------------------------------------------------------

  /** Starts recording a new op's changes. */
  beginOp (): void { this.#op = this.#newRecord() }

  /**
   * The current op's undo record (what its changes replaced) in its stored form (undo.ts
   * `encodeUndo`), made from the op's record directly; the next op begins with beginOp.
   */
  endOpEncoded (): string {
    const r = this.#op
    return encodeUndoOf(r.priors, r, this.staged)
  }

  /** Drops everything the current op staged (it failed or missed a record half-way). */
  abortOp (): void {
    const r = this.#op
    for (const [k, v] of r.staged) {
      if (v === undefined) this.staged.delete(k)
      else this.staged.set(k, v)
    }
    this.counters.files -= r.files
    this.counters.dirs -= r.dirs
    this.counters.bytes -= r.bytes
    // Numbers the op allocated are given back: applied again (after a Miss, or as an alternative),
    // it gets the same inode numbers, so what it reads of a node it made is what it staged.
    this.counters.nextIno = r.nextIno
    this.counters.nextCookie = r.nextCookie
    for (const ino of this.createdInos.splice(r.created)) this.#created.delete(ino)
    for (const [node, ino] of r.reused) {
      this.#created.delete(ino)
      this.#inoOfUndone.set(node, ino)
    }
    this.#op = this.#newRecord()
  }

  #newRecord (): OpRecord {
    return { priors: new Map(), staged: new Map(), files: 0, dirs: 0, bytes: 0, nextIno: this.counters.nextIno, nextCookie: this.counters.nextCookie, created: this.createdInos.length, reused: [] }
  }

  /** Undoes an op applied before this task: its keys get their prior values back. */
  undo (u: Undo): void {
    for (let i = u.priors.length - 1; i >= 0; i--) {
      const [k, prior] = u.priors[i]
      const v = prior instanceof InodeDelta ? this.#beforeDelta(k, prior) : prior
      // A create undone: remember its inode number so that redoing it gives the node the same one.
      // Only for the node the inode record names: an inode number belongs to one node for good
      // (the database keys inodes by both). Other node ids the op pointed at it (an mkdir merged
      // into a directory, the purged file's id that a resurrected copy takes) are aliases.
      if (k.charCodeAt(0) === 0x69 && v === ABSENT) {
        const rec = this.#get(k)
        if (rec !== ABSENT) this.#inoOfUndone.set((rec as InodeRec).node, (rec as InodeRec).ino)
      }
      this.#stage(k, v)
    }
    this.counters.files -= u.files
    this.counters.dirs -= u.dirs
    this.counters.bytes -= u.bytes
  }

  /** The inode `k` held before the op whose delta this is: its current value (what the op left) with the delta's fields. */
  #beforeDelta (k: string, d: InodeDelta): InodeRec {
    const now = this.#get(k)
    if (now === ABSENT) throw new IntegrityError(`undo record of inode ${k.slice(1)} names fields an op changed, but the inode is gone: the journal's undo records do not match its tree; run \`palm fsck\``)
    return d.before(now as InodeRec)
  }

  // ---- reads ---------------------------------------------------------------------------------

  #get (k: string): Cached {
    const s = this.staged.get(k)
    if (s !== undefined) return s
    const o = this.#overlay.get(k)
    if (o !== undefined) return o
    const c = this.#cache.get(k) ?? this.#local.get(k) as Cached | undefined
    if (c !== undefined) return c
    throw new Miss(k)
  }

  inode (ino: number): InodeRec | undefined {
    const v = this.#get(key.inode(ino))
    if (v === ABSENT) return undefined
    const rec = v as InodeRec
    // Later node-id lookups of this inode need no database read.
    this.#local.set(key.node(rec.node), rec.ino)
    return rec
  }

  inoOf (node: string): number | undefined {
    const v = this.#get(key.node(node))
    return v === ABSENT ? undefined : v as number
  }

  dentry (parent: number, name: string): DentryRec | undefined {
    const v = this.#get(key.dentry(parent, name))
    return v === ABSENT ? undefined : v as DentryRec
  }

  xattr (ino: number, name: string): Uint8Array | undefined {
    const v = this.#get(key.xattr(ino, name))
    return v === ABSENT ? undefined : v as Uint8Array
  }

  nameOf (ino: number): { parent: number, name: string } | undefined {
    const k = key.nameOf(ino)
    // Hints from the newest to the database's: the first that still names the inode here. A stale
    // one (its name was removed or replaced since) must not hide the database's, which may be right.
    for (const hint of [this.staged.get(k), this.#overlay.get(k), this.#cache.get(k), this.#local.get(k)] as Array<Cached | undefined>) {
      if (hint !== undefined && hint !== ABSENT && this.dentry((hint as DentryRec).parent, (hint as DentryRec).name)?.ino === ino) return hint as DentryRec
    }
    // Else (its hinted name was removed: one of several hard links) the first by (parent, name) of
    // the names it has here: its committed ones (read with the commits they reflect) and the
    // uncommitted ones. Which of them are committed depends on commit timing; the answer must not
    // (it is the `at` of a write, and every device must apply that op alike).
    let best: DentryRec | undefined
    const consider = (d: DentryRec): void => {
      if (best !== undefined && (d.parent > best.parent || (d.parent === best.parent && d.name >= best.name))) return
      if (this.dentry(d.parent, d.name)?.ino === ino) best = d
    }
    for (const d of this.#loaded(key.namesOf(ino)) as DentryRec[]) consider(d)
    for (const [k, v] of [...this.#overlay.entries(), ...this.staged]) {
      if (k.charCodeAt(0) === 0x64 && v !== ABSENT && (v as DentryRec).ino === ino) consider(v as DentryRec)
    }
    return best
  }

  stripe (ino: number, idx: number): StripeRef | undefined {
    const v = this.#get(key.stripe(ino, idx))
    return v === ABSENT ? undefined : v as StripeRef
  }

  stripeIndexesFrom (ino: number, from: number): number[] {
    const loaded = this.#loaded(key.stripesFrom(ino, from)) as unknown as StripeRef[]
    const keys = new Set<string>()
    for (const s of loaded) {
      const k = key.stripe(ino, s.index)
      keys.add(k)
      if (this.#local.get(k) === undefined) this.#local.set(k, s)
    }
    const prefix = `s${ino}/`
    for (const k of this.#pendingKeys(ino)) if (k.startsWith(prefix) && Number(k.slice(prefix.length)) >= from) keys.add(k)
    return [...keys].filter(k => this.#get(k) !== ABSENT).map(k => Number(k.slice(prefix.length))).sort((a, b) => a - b)
  }

  xattrNames (ino: number): string[] {
    const loaded = this.#loaded(key.xattrsOf(ino)) as unknown as Array<[string, Uint8Array]>
    const keys = new Set<string>()
    for (const [name, value] of loaded) {
      const k = key.xattr(ino, name)
      keys.add(k)
      if (this.#local.get(k) === undefined) this.#local.set(k, value)
    }
    const prefix = `x${ino}/`
    for (const k of this.#pendingKeys(ino)) if (k.startsWith(prefix)) keys.add(k)
    return [...keys].filter(k => this.#get(k) !== ABSENT).map(k => k.slice(prefix.length))
  }

  /**
   * A range read's committed rows: loaded for this task only, never cached, and read again once a
   * commit landed after them (its changes left the overlay, and the rows do not have them).
   */
  #loaded (k: string): RangeRows['rows'] {
    const v = this.#local.get(k) as RangeRows | undefined
    if (v === undefined || v.gen !== this.#cache.readStarted()) throw new Miss(k)
    return v.rows
  }

  /** Uncommitted stripe/xattr keys of `ino`: the overlay's and this task's. */
  * #pendingKeys (ino: number): Iterable<string> {
    yield * this.#overlay.keysOf(ino) ?? []
    yield * this.#stagedByIno.get(ino) ?? []
  }

  // ---- writes --------------------------------------------------------------------------------

  /** Stages `value` at `k`, recording the op's prior value of `k` the first time (`prior` if known). */
  #put (k: string, value: Cached, prior?: Cached): void {
    const r = this.#op
    if (!r.priors.has(k)) r.priors.set(k, this.staged.has(k) ? this.staged.get(k) as Cached : (prior ?? this.#get(k)))
    this.#stage(k, value)
  }

  #stage (k: string, value: Cached): void {
    const r = this.#op
    if (!r.staged.has(k)) r.staged.set(k, this.staged.get(k))
    this.staged.set(k, value)
    indexByIno(this.#stagedByIno, k)
  }

  putInode (rec: InodeRec): void {
    const fresh = this.#created.has(rec.ino) ? ABSENT : undefined
    this.#put(key.inode(rec.ino), rec, fresh)
    const nk = key.node(rec.node)
    // The node already names this inode (a change of an inode read before): nothing to record.
    if (fresh === undefined && this.#known(nk) === rec.ino) return
    if (this.staged.get(nk) !== rec.ino) this.#put(nk, rec.ino, fresh)
  }

  /** The value of `k` if the view holds it (no Miss). */
  #known (k: string): Cached | undefined {
    return this.staged.get(k) ?? this.#overlay.get(k) ?? this.#cache.get(k) ?? this.#local.get(k) as Cached | undefined
  }

  dropInode (rec: InodeRec): void {
    this.#put(key.inode(rec.ino), ABSENT, rec)
    this.#put(key.node(rec.node), ABSENT, rec.ino)
  }

  putDentry (d: DentryRec): void {
    this.#put(key.dentry(d.parent, d.name), d)
    // A hint of the inode's name (not part of undo records: it is checked whenever it is used).
    this.staged.set(key.nameOf(d.ino), d)
  }
  dropDentry (parent: number, name: string): void { this.#put(key.dentry(parent, name), ABSENT) }
  putXattr (ino: number, name: string, value: Uint8Array): void { this.#put(key.xattr(ino, name), value.slice(), this.#newIno(ino) ? ABSENT : undefined) }
  dropXattr (ino: number, name: string): void { this.#put(key.xattr(ino, name), ABSENT) }
  removedDir (node: string): RemovedDirRec | undefined {
    const v = this.#get(key.removed(node))
    return v === ABSENT ? undefined : v as RemovedDirRec
  }

  putRemovedDir (node: string, rec: RemovedDirRec | undefined): void { this.#put(key.removed(node), rec ?? ABSENT) }

  mergeNode (node: string, ino: number): void {
    this.#put(key.alias(node), ino, ABSENT)
    this.#put(key.node(node), ino, ABSENT)
  }

  repointAlias (node: string, ino: number): void {
    // An alias's row is written, never read: its value is what `n<node>` gives (it reads aliases too).
    const old = this.#get(key.node(node))
    this.#put(key.alias(node), ino, old)
    this.#put(key.node(node), ino, old)
  }

  admitted (device: string): Uint8Array | undefined {
    const v = this.#get(key.author(device))
    return v === ABSENT ? undefined : liveKey(v as Uint8Array)
  }

  admit (device: string, k: Uint8Array): void { this.#put(key.author(device), k.slice()) }

  removed (device: string): boolean {
    const v = this.#get(key.author(device))
    return v !== ABSENT && isTombstone(v as Uint8Array)
  }

  /** The author row keeps a tombstone (author-key.ts): the device's ops are refused from now on. */
  removeDevice (device: string): void { this.#put(key.author(device), tombstone(this.admitted(device))) }

  keyEpoch (): { epoch: number, keyId: string } | undefined {
    const v = this.#get(key.author(KEY_EPOCH_ROW))
    return v === ABSENT ? undefined : decodeKeyEpoch(v as Uint8Array)
  }

  setKeyEpoch (epoch: number, keyId: string): void { this.#put(key.author(KEY_EPOCH_ROW), encodeKeyEpoch(epoch, keyId)) }

  setDomain (device: string, domain: string): void { this.#put(key.author(domainRow(device)), encodeDomain(domain)) }

  putStripe (ino: number, s: StripeRef): void { this.#put(key.stripe(ino, s.index), s) }
  dropStripe (ino: number, idx: number): void { this.#put(key.stripe(ino, idx), ABSENT) }

  /** An inode this task created: it has no xattrs or stripes in any store yet. */
  #newIno (ino: number): boolean { return this.#created.has(ino) }

  /**
   * A stripe whose previous value is known to be absent (past the file's old size): recorded
   * without a read.
   */
  putNewStripe (ino: number, s: StripeRef): void { this.#put(key.stripe(ino, s.index), s, ABSENT) }

  allocIno (node?: string): number {
    const reused = node === undefined ? undefined : this.#inoOfUndone.get(node)
    if (reused !== undefined) {
      this.#inoOfUndone.delete(node as string)
      this.#op.reused.push([node as string, reused])
      this.#created.add(reused)
      return reused
    }
    const ino = this.counters.nextIno++
    this.createdInos.push(ino)
    this.#created.add(ino)
    return ino
  }

  allocCookie (): number { return this.counters.nextCookie++ }

  count (files: number, dirs: number, bytes: number): void {
    this.counters.files += files
    this.counters.dirs += dirs
    this.counters.bytes += bytes
    this.#op.files += files
    this.#op.dirs += dirs
    this.#op.bytes += bytes
  }
}
