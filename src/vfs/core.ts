/**
 * The state every VFS verb works on: components, resolved settings, inode and handle tables,
 * open-file states, the read cache, the dirty budget and the store limiter. Verbs in ops/ are
 * functions of a VfsCore; the facade (vfs.ts) only forwards to them.
 */
import { setMaxListeners } from 'node:events'
import { NotFoundError, ReadOnlyError } from '../errors.js'
import type { Attr, MetaStore } from '../meta/types.js'
import type { StripeIO, StripePolicy } from '../place/types.js'
import type { AbortOptions } from '../util/abort.js'
import type { Logger } from '../util/logger.js'
import {
  DEFAULT_CACHE_LIMIT_BYTES, DEFAULT_DIRTY_LIMIT_BYTES, DEFAULT_MAX_INFLIGHT_READ_AHEAD,
  DEFAULT_MAX_INFLIGHT_STRIPES, DEFAULT_READ_AHEAD_BYTES, DEFAULT_STRIPE_SIZE_BYTES, MAX_FILE_SIZE_BYTES
} from './constants.js'
import { compactLater, needsCompaction } from './compaction.js'
import { DirtyBudget } from './dirty-budget.js'
import { fileError } from './file-error.js'
import { HandleTable } from './handles.js'
import { InodeTable, type InodeRecord } from './inode-table.js'
import { KeyedMutex, Limiter } from './limiter.js'
import { PolicyResolver } from './policy.js'
import { ReadCache } from './read-cache.js'
import { StripeRefCache } from './stripe-refs.js'
import { UnsyncedStripes } from './unsynced.js'
import { WriteOrder } from './write-order.js'
import type { VfsComponents, VfsInit } from './types.js'
import { OpenFile, type OpenFileDeps } from './write-buffer.js'

/** VfsInit with every default applied. */
export interface VfsSettings {
  stripeSizeBytes: number
  defaultPolicy: StripePolicy
  dirtyLimitBytes: number
  cacheLimitBytes: number
  maxInflightStripes: number
  readAheadBytes: number
  maxInflightReadAhead: number
  maxFileSizeBytes: number
  readOnly: boolean
}

/** VfsInit with every default applied once. */
export function resolveSettings (init: VfsInit): VfsSettings {
  return {
    stripeSizeBytes: init.stripeSizeBytes ?? DEFAULT_STRIPE_SIZE_BYTES,
    defaultPolicy: init.defaultPolicy ?? { k: 1, n: 1 },
    dirtyLimitBytes: init.dirtyLimitBytes ?? DEFAULT_DIRTY_LIMIT_BYTES,
    cacheLimitBytes: init.cacheLimitBytes ?? DEFAULT_CACHE_LIMIT_BYTES,
    maxInflightStripes: init.maxInflightStripes ?? DEFAULT_MAX_INFLIGHT_STRIPES,
    readAheadBytes: init.readAheadBytes ?? DEFAULT_READ_AHEAD_BYTES,
    maxInflightReadAhead: init.maxInflightReadAhead ?? DEFAULT_MAX_INFLIGHT_READ_AHEAD,
    maxFileSizeBytes: Math.min(init.maxFileSizeBytes ?? MAX_FILE_SIZE_BYTES, MAX_FILE_SIZE_BYTES),
    readOnly: init.readOnly ?? false
  }
}

/** Shared state of one VFS: components, settings, tables, caches, budget and limiters. */
export class VfsCore {
  readonly meta: MetaStore
  readonly stripes: StripeIO
  readonly log: Logger
  readonly settings: VfsSettings
  readonly inodes = new InodeTable()
  readonly handles = new HandleTable()
  readonly locks = new KeyedMutex<number>()
  readonly cache: ReadCache
  readonly budget: DirtyBudget
  readonly storeLimiter: Limiter
  readonly policies: PolicyResolver
  /** Manifest refs for the read path. */
  readonly refs: StripeRefCache
  /** Writes in progress per inode: a read waits for those that arrived before it. */
  readonly writeOrder = new WriteOrder()
  /** Stripes each fsync must flush (unsynced.ts). */
  readonly unsynced = new UnsyncedStripes()
  /** Aborted by stop(): background stores and fetches end. */
  readonly controller = new AbortController()
  readonly counters = { stripesStored: 0, stripesCompacted: 0, bytesWritten: 0, bytesRead: 0 }
  /** Slice compactions (compaction.ts): one at a time, each stripe (`ino/index`) queued once. */
  readonly compactLimiter = new Limiter(1)
  readonly compacting = new Set<string>()
  readonly compactions = new Set<Promise<void>>()
  /** Start times of running compactions (stored, op not yet recorded): see uncommittedSinceMs. */
  readonly compactingSince = new Set<number>()
  /** Open-file states outside `inodes` while they work (a truncate of a closed file): see uncommittedSinceMs. */
  readonly transient = new Set<OpenFile>()
  readonly #fileDeps: OpenFileDeps

  constructor (settings: VfsSettings, components: VfsComponents) {
    this.settings = settings
    // Every background store and fetch listens on this signal.
    setMaxListeners(Infinity, this.controller.signal)
    this.meta = components.meta
    this.stripes = components.stripes
    this.log = components.logger.forComponent('palm:vfs')
    this.cache = new ReadCache({ limitBytes: settings.cacheLimitBytes, maxInflightReadAhead: settings.maxInflightReadAhead }, this.stripes, this.log)
    this.budget = new DirtyBudget(settings.dirtyLimitBytes)
    this.storeLimiter = new Limiter(settings.maxInflightStripes)
    this.policies = new PolicyResolver(this.meta, settings.defaultPolicy)
    this.refs = new StripeRefCache(this.meta)
    this.#fileDeps = {
      meta: this.meta,
      stripes: this.stripes,
      cache: this.cache,
      budget: this.budget,
      storeLimiter: this.storeLimiter,
      log: this.log,
      signal: this.controller.signal,
      spill: (bytes) => this.spill(bytes),
      onStored: () => { this.counters.stripesStored++ },
      onPending: (ino, placed, synced) => { if (!synced) this.unsynced.stored(ino, placed) },
      compact: (ino, ref, policy) => { if (needsCompaction(ref)) compactLater(this, ino, ref, policy) }
    }
  }

  /** ReadOnlyError when the VFS was started read-only. */
  checkWritable (what: string): void {
    if (this.settings.readOnly) throw new ReadOnlyError(`${what}: PALM is mounted read-only; remount without read-only to change files`)
  }

  /** checkWritable for a change to `ino`; the path is looked up only for the error. */
  async checkWritableIno (ino: number, verb: string): Promise<void> {
    if (this.settings.readOnly) this.checkWritable(`${verb} ${await this.pathOf(ino)}`)
  }

  /** A path for messages: "/a/b", or "inode N" when it has none. */
  async pathOf (ino: number, options: AbortOptions = {}): Promise<string> {
    const p = await this.meta.pathOf(ino, options).catch(() => undefined)
    return p ?? `inode ${ino}`
  }

  /** meta.getattr with the open-file overlay (dirty size and mtime). */
  async getattr (ino: number, options: AbortOptions = {}): Promise<Attr> {
    const attr = await this.meta.getattr(ino, options)
    return this.overlay(attr)
  }

  /** Applies the open-file overlay of `attr.ino`, if any (returns a copy when it changes). */
  overlay (attr: Attr): Attr {
    const file = this.inodes.get(attr.ino)?.file
    if (file == null) return attr
    const out = { ...attr, size: file.size }
    if (file.mtimeNs !== undefined) {
      out.mtimeNs = file.mtimeNs
      if (out.ctimeNs < file.mtimeNs) out.ctimeNs = file.mtimeNs
    }
    return out
  }

  /** The open-file state of an opened inode, created on first use (call with the inode lock held). */
  async openFileLocked (record: InodeRecord, options: AbortOptions = {}): Promise<OpenFile> {
    if (record.file != null) return record.file
    const file = await this.newOpenFile(record.ino, options)
    record.file ??= file
    return record.file
  }

  /** A fresh open-file state from meta (for an opened inode, or transient for truncate of a closed one). */
  async newOpenFile (ino: number, options: AbortOptions = {}, known?: { size: number, policy: StripePolicy }): Promise<OpenFile> {
    if (known != null) {
      return new OpenFile({ ino, stripeSize: this.settings.stripeSizeBytes, policy: known.policy, size: known.size }, this.#fileDeps)
    }
    const [attr, stripeSize, own] = await Promise.all([
      this.meta.getattr(ino, options),
      this.meta.stripeSizeOf(ino, options),
      this.policies.ownPolicy(ino, options).catch(() => undefined)
    ])
    return new OpenFile({
      ino,
      stripeSize: stripeSize ?? this.settings.stripeSizeBytes,
      policy: own ?? this.settings.defaultPolicy,
      size: attr.size
    }, this.#fileDeps)
  }

  /** The oldest start of a store no journal op names yet (Vfs.uncommittedSinceMs). */
  uncommittedSinceMs (): number | undefined {
    let oldest: number | undefined
    const older = (t: number | undefined): void => { if (t != null && (oldest == null || t < oldest)) oldest = t }
    for (const r of this.inodes.values()) older(r.file?.uncommittedSinceMs)
    for (const f of this.transient) older(f.uncommittedSinceMs)
    for (const t of this.compactingSince) older(t)
    return oldest
  }

  /**
   * Starts storing dirty stripes of any open file, largest first, until `bytes` are on their way
   * out. Returns true when a store is running or queued (memory will come back).
   */
  spill (bytes: number): boolean {
    let freed = 0
    const candidates: Array<{ file: OpenFile, e: ReturnType<OpenFile['spillCandidates']>[number] }> = []
    for (const r of this.inodes.values()) {
      if (r.file == null) continue
      for (const e of r.file.spillCandidates()) candidates.push({ file: r.file, e })
    }
    candidates.sort((a, b) => b.e.charge.bytes - a.e.charge.bytes)
    for (const { file, e } of candidates) {
      if (freed >= bytes) break
      file.storeEarly(e)
      freed += e.charge.bytes
    }
    if (freed > 0) this.log.trace('spilled %d dirty bytes early (need %d)', freed, bytes)
    return this.storeLimiter.running + this.storeLimiter.queued > 0
  }

  /** Releases an inode in meta if nothing holds it any more; failures are logged (fsck finds leftovers). */
  async releaseInode (ino: number): Promise<void> {
    this.unsynced.untrack(ino)
    try {
      await this.meta.releaseInode(ino)
    } catch (err) {
      if (err instanceof NotFoundError) return
      this.log.error('releasing deleted inode %d failed (fsck will collect it): %e', ino, err)
    }
  }

  /** Wraps an error from below so its message names the file. */
  async wrap (err: unknown, ino: number, action: string): Promise<Error> {
    return fileError(err, await this.pathOf(ino), action)
  }
}
