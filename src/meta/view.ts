/**
 * What op application sees of the tree: reads that may throw `Miss` (the record is not in memory:
 * the writer loads it from the database and runs the op again), and staged writes. Application is
 * synchronous and has no other side effects, so running it again after a miss is safe.
 */
import type { DentryRec, InodeRec, RemovedDirRec } from './records.js'
import type { StripeRef } from './types.js'

/** Thrown by a view read when `key` must first be loaded from the database. */
export class Miss {
  readonly key: string
  constructor (key: string) { this.key = key }
}

/** Cache keys: one namespace for every kind of record. */
export const key = {
  inode: (ino: number): string => `i${ino}`,
  dentry: (parent: number, name: string): string => `d${parent}/${name}`,
  xattr: (ino: number, name: string): string => `x${ino}/${name}`,
  node: (node: string): string => `n${node}`,
  stripe: (ino: number, idx: number): string => `s${ino}/${idx}`,
  /** Loaded only for one op (never cached): the committed stripes of `ino` with index ≥ from. */
  stripesFrom: (ino: number, from: number): string => `S${ino}/${from}`,
  /** Loaded only for one op (never cached): every committed xattr of `ino`. */
  xattrsOf: (ino: number): string => `X${ino}`,
  /** Loaded only for one op (never cached): every committed name of `ino` (up to NAMES_LOADED). */
  namesOf: (ino: number): string => `M${ino}`,
  /** A hint of one name of `ino` (checked against the entries before use). */
  nameOf: (ino: number): string => `N${ino}`,
  /** A node id merged into another node's inode (two mkdirs of one name) → that ino. */
  alias: (node: string): string => `A${node}`,
  /** A removed directory's node id → where it was (RemovedDirRec). */
  removed: (node: string): string => `R${node}`,
  /** A device admitted to the swarm → its raw Ed25519 public key. */
  author: (device: string): string => `a${device}`
}

/** Adds a stripe or xattr key (`s<ino>/…`, `x<ino>/…`) to `index` under its inode; other keys are skipped. */
export function indexByIno (index: Map<number, Set<string>>, k: string): void {
  const c = k.charCodeAt(0)
  if (c !== 0x73 && c !== 0x78) return
  const ino = Number(k.slice(1, k.indexOf('/')))
  let set = index.get(ino)
  if (set == null) index.set(ino, set = new Set())
  set.add(k)
}

export interface ApplyView {
  inode: (ino: number) => InodeRec | undefined
  /** The local ino of a global node id. */
  inoOf: (node: string) => number | undefined
  dentry: (parent: number, name: string) => DentryRec | undefined
  xattr: (ino: number, name: string) => Uint8Array | undefined

  putInode: (rec: InodeRec) => void
  /** Removes the inode row; its stripes and xattrs are removed by the caller's statements. */
  dropInode: (rec: InodeRec) => void
  putDentry: (d: DentryRec) => void
  dropDentry: (parent: number, name: string) => void
  putXattr: (ino: number, name: string, value: Uint8Array) => void
  dropXattr: (ino: number, name: string) => void
  /** One name of `ino` (its parent directory's ino and the name), or undefined if it has none. */
  nameOf: (ino: number) => { parent: number, name: string } | undefined
  /** One stripe of a file's manifest. */
  stripe: (ino: number, idx: number) => StripeRef | undefined
  /** The indexes of the stripes of `ino` at or past `from`, ascending. */
  stripeIndexesFrom: (ino: number, from: number) => number[]
  /** The names of every xattr of `ino`. */
  xattrNames: (ino: number) => string[]
  /** Where the removed directory `node` was (undefined: not removed, or back again). */
  removedDir: (node: string) => RemovedDirRec | undefined
  putRemovedDir: (node: string, rec: RemovedDirRec | undefined) => void
  /** Makes `node` another id of the existing inode `ino` (its ops then apply to that inode). */
  mergeNode: (node: string, ino: number) => void
  /** Points an alias (mergeNode) at another inode; its undo gives the alias its old inode back. */
  repointAlias: (node: string, ino: number) => void
  /** The public key of an admitted device (undefined once it is removed). */
  admitted: (device: string) => Uint8Array | undefined
  admit: (device: string, key: Uint8Array) => void
  /** Whether the device was removed from the swarm. */
  removed: (device: string) => boolean
  removeDevice: (device: string) => void
  /** The latest re-keying the journal records (`keyEpoch` ops), or undefined. */
  keyEpoch: () => { epoch: number, keyId: string } | undefined
  setKeyEpoch: (epoch: number, keyId: string) => void
  /** Records `device`'s failure domain ('' for none). */
  setDomain: (device: string, domain: string) => void
  putStripe: (ino: number, s: StripeRef) => void
  /** putStripe for a stripe that did not exist before (past the file's old end): nothing to read. */
  putNewStripe: (ino: number, s: StripeRef) => void
  dropStripe: (ino: number, idx: number) => void

  /** A new local inode number for `node` (the one it had, when its create is being redone). */
  allocIno: (node?: string) => number
  allocCookie: () => number
  /** Adjusts the counters behind `stats()`. */
  count: (files: number, dirs: number, bytes: number) => void
}
