/**
 * The view one op is applied against: its own staged changes first, then the writer's uncommitted
 * overlay (ops prepared before it, not yet committed), then the committed cache, then what this op
 * loaded from the database. A record found nowhere throws Miss. Staged changes reach the overlay
 * only when the whole op succeeded.
 */
import { ABSENT, type Cached, type CommittedCache } from './cache.js'
import type { DentryRec, InodeRec } from './records.js'
import { key, Miss, type ApplyView } from './view.js'

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
  get: (key: string) => { value: Cached } | undefined
}

export class OpContext implements ApplyView {
  readonly staged = new Map<string, Cached>()
  readonly stmts: string[] = []
  readonly releasedInos: number[] = []
  /** Inodes this op created (they have no xattrs yet). */
  readonly createdInos: number[] = []
  readonly counters: Counters
  readonly #overlay: Overlay
  readonly #cache: CommittedCache
  readonly #local: Map<string, Cached>

  constructor (counters: Counters, overlay: Overlay, cache: CommittedCache, local: Map<string, Cached>) {
    this.counters = { ...counters }
    this.#overlay = overlay
    this.#cache = cache
    this.#local = local
  }

  /** True when applying the op changed nothing (a no-op: nothing to log). */
  get empty (): boolean {
    return this.staged.size === 0 && this.stmts.length === 0
  }

  #get (k: string): Cached {
    const s = this.staged.get(k)
    if (s !== undefined) return s
    const o = this.#overlay.get(k)
    if (o !== undefined) return o.value
    const c = this.#cache.get(k) ?? this.#local.get(k)
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

  putInode (rec: InodeRec): void {
    this.staged.set(key.inode(rec.ino), rec)
    this.staged.set(key.node(rec.node), rec.ino)
  }

  dropInode (rec: InodeRec): void {
    this.staged.set(key.inode(rec.ino), ABSENT)
    this.staged.set(key.node(rec.node), ABSENT)
  }

  putDentry (d: DentryRec): void { this.staged.set(key.dentry(d.parent, d.name), d) }
  dropDentry (parent: number, name: string): void { this.staged.set(key.dentry(parent, name), ABSENT) }
  putXattr (ino: number, name: string, value: Uint8Array): void { this.staged.set(key.xattr(ino, name), value.slice()) }
  dropXattr (ino: number, name: string): void { this.staged.set(key.xattr(ino, name), ABSENT) }
  sql (statement: string): void { this.stmts.push(statement) }
  released (ino: number): void { this.releasedInos.push(ino) }
  allocIno (): number {
    const ino = this.counters.nextIno++
    this.createdInos.push(ino)
    return ino
  }
  allocCookie (): number { return this.counters.nextCookie++ }

  count (files: number, dirs: number, bytes: number): void {
    this.counters.files += files
    this.counters.dirs += dirs
    this.counters.bytes += bytes
  }
}
