/**
 * The MetaStore on SQLite (node-sqlite3, WAL). Reads answer from the committed cache and fall back
 * to the database; every change goes through the single writer as an op. See docs/journal.md.
 */
import { open as openFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import {
  InvalidArgumentError, IntegrityError, NotConnectedError, NotDirectoryError, NotFoundError, PermissionError, ProtocolError
} from '../errors.js'
import { raceSignal, throwIfAborted, type AbortOptions } from '../util/abort.js'
import { defaultLogger, type ComponentLogger, type Logger } from '../util/logger.js'
import { Lifecycle } from '../util/startable.js'
import type { ApplyResult } from './apply.js'
import { ChangeFeed } from './change-feed.js'
import { ABSENT, CommittedCache, type Cached } from './cache.js'
import { DEFAULT_CACHE_ENTRIES, OP_VERSION, OP_VERSION_SLICES, PAGE_ROWS } from './constants.js'
import { Db, journalError } from './db.js'
import { checkJournal } from './fsck.js'
import type { Hlc } from './hlc.js'
import { checkName, checkXattrName } from './names.js'
import { decodeOp, publicKeyObject, type SignedOp, type WireOp } from './op.js'
import { checkSealed } from './seal.js'
import type { KeyObject } from 'node:crypto'
import { compareKeys, type MergeReport, type OpKey } from './merge-plan.js'
import { admitKey } from './apply-admit.js'
import { dropUndo, stablePoint, undoFragments } from './compaction.js'
import { partsOf } from './slices.js'
import { allStripeRows, fetchEntry, fetchKey, readAuthorOps, readEntries, readNameOf, readOps, readStripes, readVersionVector, readXattrNames } from './reads.js'
import { OpFeed } from './op-feed.js'
import { attrOf, type DentryRec, type InodeRec } from './records.js'
import { configureReader, configureWriter, limitSize, migrate } from './schema.js'
import { sqlBlob, sqlText } from './sql.js'
import { GroupSync, WalSync } from './sync.js'
import { RedoLog } from './redo.js'
import { loadJournal, replayRedo, type RedoReplay } from './open-journal.js'
import { checkJournalFile } from './startup-check.js'
import { readDamageNotes } from './damaged.js'
import { replayOpLog, type OpLogReplay } from './rebuild.js'
import { JournalRoom } from './room.js'
import { ROOT_INO, type Attr, type ContentUpdate, type DirEntry, type JournalCheck, type MetaStats, type MetaStore, type NodeInit, type RenameFlags, type SetAttr, type StripeRef, type XattrFlags, type EarlyCreate, type JournalChange, type ChangeListenerOptions, type JournalHealth, type StoredOp, type RemoteReport } from './types.js'
import { key } from './view.js'
import type { Writer } from './writer.js'
import { decodeDomain, decodeKeyEpoch, isTombstone, KEY_EPOCH_ROW, liveKey } from './author-key.js'
import {
  admitCall, removeDeviceCall, keyEpochCall, setDomainCall, createCall, holdersCall, linkCall, releaseCall, removeCall, removexattrCall, renameCall, setattrCall, setContentCall, setxattrCall, type Call
} from './calls.js'
import { reencodeCall } from './apply-reencode.js'

export interface MetaStoreInit {
  /** Database file path, or ':memory:' (tests: nothing persists). */
  path: string
  /** This device's id: the author of every local op. */
  deviceId: string
  /** Signs an op's bytes with the author's Ed25519 key (default: ops are stored unsigned). */
  sign?: (bytes: Uint8Array) => Uint8Array
  /**
   * The same signature, made off the event loop (node:crypto's callback form runs on the libuv
   * threadpool). When given, commits sign with it: ~30 µs of main thread less per op.
   */
  signAsync?: (bytes: Uint8Array) => Promise<Uint8Array>
  /** The author's raw 32-byte Ed25519 public key, recorded so fsck and peers can verify ops. */
  publicKey?: Uint8Array
  /** Wall clock in nanoseconds (default: system clock with sub-ms resolution). */
  clock?: () => bigint
  /**
   * A timestamp this device's ops must come after (ns): the inviting device's clock when this one
   * joined (`clock-floor` in the home). Without it, a new device whose clock is behind the swarm's
   * would stamp its first ops before the point the others have compacted, and they would refuse
   * them for good.
   */
  clockFloor?: bigint
  logger?: ComponentLogger
  /** Inodes, entries and xattrs kept in memory (default 65536 entries). */
  cacheEntries?: number
  /** Owner of a newly created root directory (default 0). */
  uid?: number
  /** Group of a newly created root directory (default 0). */
  gid?: number
  /**
   * Largest size of the database, in bytes (default: unlimited). A commit that would grow it
   * further fails with NoSpaceError and changes nothing; the store keeps working for changes that
   * free or reuse space.
   */
  maxJournalBytes?: number
  /**
   * When commits reach stable storage (default 'on-sync'):
   * - 'on-sync': a commit is written to the WAL file (safe against a killed process); `sync()`
   *   fdatasyncs the WAL (safe against power loss), one fsync shared by concurrent callers.
   * - 'every-commit': SQLite fsyncs the WAL at every commit (synchronous=FULL); `sync()` has
   *   nothing left to do. Slower per commit (see docs/journal.md for measurements).
   */
  syncMode?: SyncMode
}

/** See MetaStoreInit.syncMode. */
export type SyncMode = 'on-sync' | 'every-commit'

interface Opened { db: Db, reader: Db, writer: Writer, hlc: Hlc, redo?: RedoLog }

export class SqliteMetaStore extends Lifecycle implements MetaStore {
  readonly #init: MetaStoreInit
  readonly #log: Logger
  readonly #cache: CommittedCache
  readonly #inflight = new Map<string, Promise<Cached>>()
  readonly #sync: WalSync
  readonly #redoSync = new GroupSync(async () => { await this.#o?.redo?.sync() })
  readonly #room: JournalRoom
  readonly #feed: ChangeFeed
  readonly #opFeed: OpFeed
  #o?: Opened
  /** What the start-up replay of the redo log found. */
  #replayed?: RedoReplay
  /** Notes of damage found in this journal's files (damaged/journal-damage.log). */
  #notes: string[] = []
  /** Resolves once the last applyRemote call has handed its ops to the writer (calls merge in call order). */
  #remoteSubmitted: Promise<void> = Promise.resolve()
  /** Resolves once the last applyRemote call whose ops admit or remove devices has settled. */
  #remoteKeys: Promise<void> = Promise.resolve()

  constructor (init: MetaStoreInit) {
    super()
    this.#init = init
    this.#log = (init.logger ?? defaultLogger()).forComponent('palm:meta')
    this.#cache = new CommittedCache(init.cacheEntries ?? DEFAULT_CACHE_ENTRIES)
    this.#sync = new WalSync(init.path, init.path !== ':memory:' && init.syncMode !== 'every-commit')
    this.#room = new JournalRoom({ dir: dirname(init.path) })
    this.#feed = new ChangeFeed(init.deviceId, this.#log)
    this.#opFeed = new OpFeed(this.#log)
  }

  protected async onStart (): Promise<void> {
    const { path } = this.#init
    const memory = path === ':memory:'
    const db = await Db.open(path)
    let reader = db
    try {
      // Before anything reads it: a damaged journal would answer "not found" for what it lost.
      if (!memory) await checkJournalFile(db)
      await configureWriter(db, memory, this.#init.syncMode === 'every-commit')
      const before = await migrate(db)
      if (this.#init.maxJournalBytes != null) await limitSize(db, this.#init.maxJournalBytes)
      if (!memory) {
        reader = await Db.open(path)
        await configureReader(reader)
      }
      // The redo log is what lets calls be answered before their commit (docs/durability.md);
      // 'every-commit' promises a synced commit per call, so it answers after commits only.
      const redo = memory || this.#init.syncMode === 'every-commit' ? undefined : await RedoLog.open(path)
      try {
        const earlyReplies = this.#init.maxJournalBytes == null ? () => this.#room.allowed() : () => false
        const { writer, hlc } = await loadJournal(db, reader, { init: this.#init, cache: this.#cache, log: this.#log, redo: redo?.log, earlyReplies, onCommit: (b) => { this.#feed.committed(b); this.#opFeed.committed(b) } })
        this.#o = { db, reader, writer, hlc, redo: redo?.log }
        if (redo != null) {
          await this.#room.refresh()
          this.#replayed = await replayRedo(writer, redo, { init: this.#init, log: this.#log })
        }
        if (!memory) this.#notes = await readDamageNotes(path)
      } catch (err) {
        await redo?.log.close()
        throw err
      }
      this.#log('opened journal %s (schema was v%d), %d ops', path, before, this.#o.writer.committed.ops)
    } catch (err) {
      if (reader !== db) await reader.close().catch(() => {})
      await db.close().catch(() => {})
      throw journalError(err, path, 'opening it')
    }
    // Inodes with no names left were open when the last run ended: nothing can reach them now.
    const orphans = await reader.all<{ ino: number }>('SELECT ino FROM inodes WHERE nlink=0')
    if (orphans.length > 0) this.#log('purging %d unlinked inodes left by the last run', orphans.length)
    await Promise.all(orphans.map(async o => { await this.releaseInode(o.ino) }))
    if (!memory) {
      // Make the directory entries of a newly created database and WAL durable.
      const dir = await openFile(dirname(path), 'r')
      try { await dir.sync() } finally { await dir.close() }
    }
  }

  protected async onStop (): Promise<void> {
    const o = this.#o
    if (o == null) return
    await o.writer.flush()
    this.#o = undefined
    // Everything is committed: the redo log has nothing left to give. Unless a failed commit left
    // answered ops only there: then it stays for the next start.
    await o.redo?.close(o.writer.keptInRedo > 0)
    await this.#sync.close()
    if (o.reader !== o.db) await o.reader.close()
    await o.db.close()
  }

  /**
   * What is wrong with the journal's files, in sentences for `palm status`: damage noted in
   * `damaged/journal-damage.log` (found at this or an earlier start), and answered changes kept in
   * the redo log after a failed commit.
   */
  health (): JournalHealth {
    const problems = [...this.#notes]
    const failure = this.#o?.writer.failure
    if (failure != null) problems.push(failure.message)
    return {
      ok: problems.length === 0,
      problems,
      keptInRedo: this.#o?.writer.keptInRedo ?? 0,
      ...(this.#replayed != null ? { redo: { applied: this.#replayed.applied, notApplied: this.#replayed.notApplied, damaged: this.#replayed.damage.length, keptAt: this.#replayed.keptAt } } : {})
    }
  }

  /**
   * Applies a whole op log, in (hlc, author, seq) order, to this journal, which must be new: what
   * `palm fsck --repair` rebuilds a damaged journal with (rebuild.ts). Ops of an author with a
   * known key must be sealed (seal.ts); `read` is read twice (the seals first).
   */
  async replayOpLog (read: () => AsyncIterable<SignedOp>, keys: ReadonlyMap<string, Uint8Array>): Promise<OpLogReplay> {
    return await replayOpLog(this.#opened().writer, read, keys)
  }

  #opened (): Opened {
    if (this.#o == null) throw new NotConnectedError(`metadata journal ${this.#init.path} is not open: start the store first`)
    return this.#o
  }

  // ---- reads -------------------------------------------------------------------------------

  /** The committed value of `k`: cache, else one (shared) database read that fills the cache. */
  async #get (k: string, options: AbortOptions): Promise<Cached> {
    const hit = this.#peek(k)
    if (hit !== undefined) return hit
    const { reader } = this.#opened()
    let p = this.#inflight.get(k)
    if (p == null) {
      const gen = this.#cache.readStarted()
      p = fetchKey(reader, k).then(v => { this.#cache.fill(k, v, gen); return v })
        .catch((err: unknown) => { throw journalError(err, reader.path, 'reading it') })
        .finally(() => this.#inflight.delete(k))
      this.#inflight.set(k, p)
    }
    return await raceSignal(p, options.signal, 'journal read')
  }

  async #inode (ino: number, options: AbortOptions): Promise<InodeRec> {
    const v = await this.#get(key.inode(ino), options)
    if (v === ABSENT) throw new NotFoundError(`inode ${ino} does not exist (it was removed)`, { details: { ino } })
    return v as InodeRec
  }

  async #dir (ino: number, options: AbortOptions): Promise<InodeRec> {
    const rec = await this.#inode(ino, options)
    if (rec.type !== 'dir') throw new NotDirectoryError(`inode ${ino} is not a directory`, { details: { ino } })
    return rec
  }

  /**
   * What readers see of `k` without the database: the writer's applied-but-uncommitted value (an
   * early create is visible as soon as it is answered), else the committed cache.
   */
  #peek (k: string): Cached | undefined {
    return this.#o?.writer.peek(k) ?? this.#cache.get(k)
  }

  async getattr (ino: number, options: AbortOptions = {}): Promise<Attr> {
    const hit = this.#peek(key.inode(ino))
    if (hit !== undefined && hit !== ABSENT) return attrOf(hit as InodeRec)
    throwIfAborted(options.signal, 'getattr')
    return attrOf(await this.#inode(ino, options))
  }

  async lookup (parent: number, name: string, options: AbortOptions = {}): Promise<Attr | undefined> {
    checkName(name)
    const dk = key.dentry(parent, name)
    let d = this.#peek(dk)
    if (d !== undefined) {
      const p = this.#peek(key.inode(parent))
      if (p == null || p === ABSENT) await this.#dir(parent, options)
      else if ((p as InodeRec).type !== 'dir') throw new NotDirectoryError(`inode ${parent} is not a directory`, { details: { ino: parent } })
    } else {
      await this.#dir(parent, options)
      const { reader } = this.#opened()
      const gen = this.#cache.readStarted()
      const e = await raceSignal(fetchEntry(reader, parent, name), options.signal, 'lookup')
      d = e?.dentry ?? ABSENT
      this.#cache.fill(dk, d, gen)
      if (e?.inode != null) { this.#cache.fill(key.inode(e.inode.ino), e.inode, gen); return attrOf(e.inode) }
    }
    if (d === ABSENT) return undefined
    const v = await this.#get(key.inode((d as { ino: number }).ino), options)
    return v === ABSENT ? undefined : attrOf(v as InodeRec)
  }

  async readdir (ino: number, cookie: number, limit: number, options: AbortOptions = {}): Promise<DirEntry[]> {
    await this.#dir(ino, options)
    // Entries are read from the database: wait for an applied change of this directory to land.
    await this.#settled(key.inode(ino), options)
    if (!Number.isSafeInteger(cookie) || cookie < 0 || !Number.isSafeInteger(limit) || limit < 1) {
      throw new InvalidArgumentError(`readdir of inode ${ino}: cookie ${cookie} and limit ${limit} must be integers, limit ≥ 1`)
    }
    const max = Math.min(limit, 10_000)
    const gen = this.#cache.readStarted()
    const rows = await raceSignal(readEntries(this.#opened().reader, ino, cookie, max), options.signal, 'readdir')
    const keys: string[] = []
    for (const { dentry, inode } of rows) {
      const k = key.dentry(ino, dentry.name)
      keys.push(k)
      this.#cache.fill(k, dentry, gen)
      if (inode != null) this.#cache.fill(key.inode(inode.ino), inode, gen)
    }
    // The whole directory in one page: remember it is complete, so absent names need no read.
    if (cookie === 0 && rows.length < max && rows.length <= this.#cache.maxCompleteListing) this.#cache.markComplete(ino, keys, gen)
    return rows.map(({ dentry: d }) => ({ name: d.name, ino: d.ino, type: d.type, cookie: d.cookie }))
  }

  /** Waits until every op applied so far is committed (reads of whole tables see them then). */
  async #barrier (options: AbortOptions): Promise<void> {
    await raceSignal(this.#opened().writer.barrier(), options.signal, 'waiting for a journal commit')
  }

  /** Waits until no uncommitted change of `k` is pending (reads that go to the database see it then). */
  async #settled (k: string, options: AbortOptions): Promise<void> {
    const { writer } = this.#opened()
    if (writer.peek(k) === undefined) return
    await raceSignal(writer.settled(k), options.signal, 'waiting for a journal commit')
  }

  async parentOf (dirIno: number, options: AbortOptions = {}): Promise<number> {
    return (await this.#dir(dirIno, options)).parent
  }

  async readlink (ino: number, options: AbortOptions = {}): Promise<string> {
    const rec = await this.#inode(ino, options)
    if (rec.type !== 'symlink' || rec.target == null) throw new InvalidArgumentError(`inode ${ino} is not a symbolic link`, { details: { ino } })
    return rec.target
  }

  async getStripes (ino: number, from: number, to: number, options: AbortOptions = {}): Promise<StripeRef[]> {
    await this.#inode(ino, options)
    await this.#settled(key.inode(ino), options)
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < from) {
      throw new InvalidArgumentError(`stripe range [${from}, ${to}) of inode ${ino} is not a range of stripe indexes`)
    }
    return await raceSignal(readStripes(this.#opened().reader, ino, from, to), options.signal, 'reading stripes')
  }

  async stripeSizeOf (ino: number, options: AbortOptions = {}): Promise<number | undefined> {
    const rec = await this.#inode(ino, options)
    return rec.stripeSize === 0 ? undefined : rec.stripeSize
  }

  async getxattr (ino: number, name: string, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
    checkXattrName(name)
    await this.#inode(ino, options)
    const v = await this.#get(key.xattr(ino, name), options)
    return v === ABSENT ? undefined : (v as Uint8Array).slice()
  }

  async listxattr (ino: number, options: AbortOptions = {}): Promise<string[]> {
    await this.#inode(ino, options)
    await this.#settled(key.inode(ino), options)
    return await raceSignal(readXattrNames(this.#opened().reader, ino), options.signal, 'listxattr')
  }

  async pathOf (ino: number, options: AbortOptions = {}): Promise<string | undefined> {
    if (ino === ROOT_INO) return '/'
    await this.#barrier(options)
    const { reader } = this.#opened()
    const parts: string[] = []
    for (let cur = ino; cur !== ROOT_INO;) {
      throwIfAborted(options.signal, 'pathOf')
      const row = await readNameOf(reader, cur)
      if (row == null || parts.length > 4096) return undefined
      parts.push(row.name)
      cur = row.parent
    }
    return '/' + parts.reverse().join('/')
  }

  clockReading (): bigint {
    const { hlc } = this.#opened()
    const now = hlc.physical()
    return now > hlc.last ? now : hlc.last
  }

  stats (): MetaStats {
    // Applied ops count (answered calls); they are committed within milliseconds.
    const c = this.#opened().writer.applied
    return { files: c.files, dirs: c.dirs, logicalBytes: c.bytes, ops: c.ops }
  }

  async * referencedFragments (options: AbortOptions = {}): AsyncIterable<string> {
    for await (const { stripe } of this.allStripes(options)) yield * stripe.fragments
  }

  async * heldFragments (options: AbortOptions & { vectors?: ReadonlyMap<string, ReadonlyMap<string, number>> } = {}): AsyncIterable<string> {
    await this.#barrier(options)
    // With what the devices are known to be past: only the records a compaction now would keep.
    const since = options.vectors == null ? 0n : await stablePoint(this.#opened().reader, this.#init.deviceId, options.vectors)
    for await (const cid of undoFragments(this.#opened().reader, since)) {
      throwIfAborted(options.signal, 'listing fragments kept for undo')
      yield cid
    }
  }

  async compactUndo (known: { beforeHlc?: bigint, vectors?: ReadonlyMap<string, ReadonlyMap<string, number>> } = {}, options: AbortOptions = {}): Promise<number> {
    await this.#barrier(options)
    const { db, reader } = this.#opened()
    return await dropUndo(db, known.beforeHlc ?? await stablePoint(reader, this.#init.deviceId, known.vectors), options)
  }

  async * allStripes (options: AbortOptions = {}): AsyncIterable<{ ino: number, stripe: StripeRef }> {
    await this.#barrier(options)
    for await (const row of allStripeRows(this.#opened().reader)) {
      throwIfAborted(options.signal, 'listing stripes')
      // Each slice is a stored stripe of its own: every walk of fragments sees it (docs/vfs.md).
      for (const stripe of partsOf(row.stripe)) yield { ino: row.ino, stripe }
    }
  }

  /** The op log in total order (hlc, author, seq): what a peer would pull. */
  async * exportOps (options: AbortOptions = {}): AsyncIterable<SignedOp> {
    await this.#barrier(options)
    for await (const op of readOps(this.#opened().reader)) {
      throwIfAborted(options.signal, 'exporting ops')
      yield op
    }
  }

  async check (options: AbortOptions = {}): Promise<JournalCheck> {
    await this.#barrier(options)
    return await checkJournal(this.#opened().reader, options)
  }

  // ---- writes ------------------------------------------------------------------------------

  /**
   * Submits a local op to the writer. `inodes` and `entries` (with the inodes they name) are loaded
   * into the cache first, concurrently with other callers: the single writer then rarely has to
   * wait for the database, and concurrent calls share commits.
   */
  async #write (call: Call, options: AbortOptions): Promise<ApplyResult> {
    throwIfAborted(options.signal, 'journal op')
    const { writer } = this.#opened()
    await this.#warm(call.inodes, call.entries, options)
    return await raceSignal(writer.local(call.build, options.signal), options.signal, 'journal op (it may still be committed)')
  }

  async #warm (inodes: number[], entries: Array<[number, string]>, options: AbortOptions): Promise<void> {
    const keys = [...inodes.map(key.inode), ...entries.map(([p, n]) => key.dentry(p, n))]
    let missing = keys.filter(k => this.#peek(k) === undefined)
    for (let round = 0; round < 2 && missing.length > 0; round++) {
      const values = await Promise.all(missing.map(async k => await this.#get(k, options)))
      // Second round: the inodes the entries name.
      missing = values.filter((v): v is DentryRec => v !== ABSENT && typeof v === 'object' && 'cookie' in v)
        .map(d => key.inode(d.ino)).filter(k => this.#peek(k) === undefined)
    }
  }

  async create (parent: number, name: string, init: NodeInit, options: AbortOptions = {}): Promise<Attr> {
    return attrOf((await this.#write(createCall(parent, name, init), options)).rec as InodeRec)
  }

  async createEarly (parent: number, name: string, init: NodeInit, options: AbortOptions = {}): Promise<EarlyCreate> {
    throwIfAborted(options.signal, 'journal op')
    const call = createCall(parent, name, init)
    const { writer } = this.#opened()
    await this.#warm(call.inodes, call.entries, options)
    const { result, committed } = await raceSignal(writer.localEarly(call.build, options.signal), options.signal, 'journal op (it may still be committed)')
    return { attr: attrOf(result.rec as InodeRec), committed }
  }

  async link (ino: number, parent: number, name: string, options: AbortOptions = {}): Promise<Attr> {
    return attrOf((await this.#write(linkCall(ino, parent, name), options)).rec as InodeRec)
  }

  async unlink (parent: number, name: string, options: AbortOptions = {}): Promise<Attr> {
    return attrOf((await this.#write(removeCall('unlink', parent, name), options)).rec as InodeRec)
  }

  async rmdir (parent: number, name: string, options: AbortOptions = {}): Promise<void> {
    await this.#write(removeCall('rmdir', parent, name), options)
  }

  async rename (parent: number, name: string, newParent: number, newName: string, flags: RenameFlags = {}, options: AbortOptions = {}): Promise<{ replaced?: Attr }> {
    const r = await this.#write(renameCall(parent, name, newParent, newName, flags), options)
    return r.replaced == null ? {} : { replaced: attrOf(r.replaced) }
  }

  async setattr (ino: number, set: SetAttr, options: AbortOptions = {}): Promise<Attr> {
    return attrOf((await this.#write(setattrCall(ino, set), options)).rec as InodeRec)
  }

  async setContent (ino: number, update: ContentUpdate, options: AbortOptions = {}): Promise<Attr> {
    return attrOf((await this.#write(setContentCall(ino, update), options)).rec as InodeRec)
  }

  async setHolders (ino: number, index: number, stripeId: string, set: Array<[number, string, string[]]>, options: AbortOptions & { expectHolders?: string[][] } = {}): Promise<boolean> {
    let recorded = false
    await this.#write(holdersCall(ino, index, stripeId, set, { expect: options.expectHolders, recorded: yes => { recorded = yes } }), options)
    // Stripe reads settle on the inode, which this op leaves alone: return once the stripe is committed.
    await this.#settled(key.stripe(ino, index), options)
    return recorded
  }

  async reencodeStripe (ino: number, index: number, from: string, stripe: StripeRef, options: AbortOptions & { merged?: string[] } = {}): Promise<boolean> {
    let recorded = false
    await this.#write(reencodeCall(ino, index, from, stripe, yes => { recorded = yes }, options.merged), options)
    if (recorded) await this.#settled(key.stripe(ino, index), options)
    return recorded
  }

  async setxattr (ino: number, name: string, value: Uint8Array, flags: XattrFlags = {}, options: AbortOptions = {}): Promise<void> {
    await this.#write(setxattrCall(ino, name, value, flags), options)
  }

  async removexattr (ino: number, name: string, options: AbortOptions = {}): Promise<void> {
    await this.#write(removexattrCall(ino, name), options)
  }

  async releaseInode (ino: number, options: AbortOptions = {}): Promise<void> {
    await this.#write(releaseCall(ino), options)
  }

  async sync (options: AbortOptions = {}): Promise<void> {
    this.#opened()
    // Every answered op is in the WAL (committed) or in the redo log (not yet): sync both.
    await raceSignal(Promise.all([this.#sync.sync(), this.#redoSync.sync()]), options.signal, 'journal sync')
  }

  // ---- replication hooks -------------------------------------------------------------------

  /** The change feed (see MetaStore.onChange and change-feed.ts). Works before start and after stop. */
  onChange (listener: (change: JournalChange) => void, options: ChangeListenerOptions = {}): () => void {
    return this.#feed.on(listener, options)
  }

  /** Highest committed seq per author (every op 1…n of each author is held: gaps are refused). */
  async versionVector (options: AbortOptions = {}): Promise<Map<string, number>> {
    await this.#barrier(options)
    return await raceSignal(readVersionVector(this.#opened().reader), options.signal, 'reading the version vector')
  }

  /** Committed ops of `author` with seq > `after`, in seq order, at most `limit` (≤ PAGE_ROWS). */
  async readOps (author: string, after: number, limit: number, options: AbortOptions = {}): Promise<StoredOp[]> {
    if (!Number.isSafeInteger(after) || after < 0 || !Number.isSafeInteger(limit) || limit < 1) {
      throw new InvalidArgumentError(`readOps of ${author}: after ${after} and limit ${limit} must be integers, limit ≥ 1`)
    }
    await this.#barrier(options)
    const rows = await raceSignal(readAuthorOps(this.#opened().reader, author, after, Math.min(limit, PAGE_ROWS)), options.signal, 'reading ops')
    return rows.map(r => ({ author, ...r }))
  }

  /** Calls `listener` with this device's own ops (signed) after each commit, in seq order. Returns the unsubscribe. */
  onOps (listener: (ops: SignedOp[]) => void): () => void {
    return this.#opFeed.subscribe(listener)
  }

  /** Records a device's Ed25519 public key: ops from it are accepted only when signed by it. */
  async trustAuthor (author: string, publicKey: Uint8Array): Promise<void> {
    await this.#opened().db.exec(`INSERT OR REPLACE INTO authors(author,public_key) VALUES(${sqlText(author)},${sqlBlob(publicKey)})`)
  }

  /**
   * Applies ops of other devices (replication). Each op is decoded from the signed bytes themselves
   * (`body`), never from a parsed copy, and taken only when its author is a device this journal
   * trusts and the op is authentic: signed by its author, or sealed through the chain of `prev`
   * hashes by a later op of the batch that is (seal.ts). Bad ops are refused in the report (never
   * thrown): the batch's good ops still apply, in merge mode and in total order, late ones by
   * undo-redo (writer.ts). Ops after an author's last seal in the batch are neither applied nor
   * refused: they are listed as `unsealed` and pulled again with their seal.
   */
  async applyRemote (ops: WireOp[], options: AbortOptions = {}): Promise<RemoteReport> {
    // A call may start while earlier ones are still checked or committed: it hands its ops to the
    // writer after them, and checks keys only once earlier admissions and removals are merged.
    const before = { submitted: this.#remoteSubmitted, keys: this.#remoteKeys }
    let submitted!: () => void
    let settled!: () => void
    this.#remoteSubmitted = new Promise<void>((resolve) => { submitted = resolve })
    const done = new Promise<void>((resolve) => { settled = resolve })
    try {
      return await this.#applyRemote(ops, before, submitted, done, options)
    } finally {
      submitted()
      settled()
    }
  }

  async #applyRemote (ops: WireOp[], before: { submitted: Promise<void>, keys: Promise<void> }, submitted: () => void, done: Promise<void>, options: AbortOptions): Promise<RemoteReport> {
    const { writer } = this.#opened()
    const refused: MergeReport['refused'] = []
    const unsealed: RemoteReport['unsealed'] = []
    const pending: SignedOp[] = []
    for (const w of ops) {
      const v = this.#decoded(w)
      if (typeof v === 'string') refused.push({ author: w.author ?? authorOf(w), seq: w.seq ?? seqOf(w), reason: v })
      else pending.push(v)
    }
    if (pending.some(s => s.op.kind === 'admit' || s.op.kind === 'removeDevice')) this.#remoteKeys = done
    await raceSignal(before.keys, options.signal, 'waiting for earlier admissions')
    // Admissions in this batch count for the ops after them: check until nothing more passes.
    // Each round checks the chains of the authors whose keys are known (one signature per seal).
    const keys = new Map<string, KeyObject | undefined>()
    const removed = new Set<string>()
    let good: SignedOp[] = []
    let rest = pending
    while (rest.length > 0) {
      const ready: SignedOp[] = []
      const later: SignedOp[] = []
      for (const signed of rest) {
        const { author } = signed.op
        if (!keys.has(author)) {
          const raw = await this.#authorKey(author)
          if (isTombstone(raw)) removed.add(author)
          const live = liveKey(raw)
          keys.set(author, live == null ? undefined : publicKeyObject(live))
        }
        if (removed.has(author)) { refused.push({ author, seq: signed.op.seq, reason: 'its author was removed from this swarm' }); continue }
        if (keys.get(author) == null) later.push(signed)
        else ready.push(signed)
      }
      if (ready.length === 0) break
      const checked = await raceSignal(checkSealed(ready, a => keys.get(a) as KeyObject), options.signal, 'checking op signatures')
      for (const { op, reason } of checked.bad) refused.push({ author: op.op.author, seq: op.op.seq, reason })
      for (const s of checked.unsealed) unsealed.push({ author: s.op.author, seq: s.op.seq })
      for (const signed of checked.good) {
        good.push(signed)
        if (signed.op.kind !== 'admit' || keys.get(signed.op.device) != null) continue
        try { keys.set(signed.op.device, publicKeyObject(admitKey(signed.op))) } catch {}
      }
      rest = later
    }
    for (const signed of rest) if (!removed.has(signed.op.author)) refused.push({ author: signed.op.author, seq: signed.op.seq, reason: 'untrusted: its author was never admitted to this swarm' })
    if (unsealed.length > 0) this.#log.trace('%d ops after their author\'s last seal in this batch (first %d@%s) are left to be pulled again with it', unsealed.length, unsealed[0].seq, unsealed[0].author)
    // An admit op in this batch does not bring back a removed device.
    for (const author of new Set(good.map(s => s.op.author))) {
      if (!removed.has(author) && isTombstone(await this.#authorKey(author))) removed.add(author)
    }
    if (removed.size > 0) {
      for (const s of good) if (removed.has(s.op.author)) refused.push({ author: s.op.author, seq: s.op.seq, reason: 'its author was removed from this swarm' })
      good = good.filter(s => !removed.has(s.op.author))
    }
    // In total order, MERGE_CHUNK_OPS at a time: each chunk is newer than the one before (no
    // undo-redo between them), and the writer commits one while it applies the next.
    good.sort((a, b) => compareKeys(keyOf(a), keyOf(b)))
    await raceSignal(before.submitted, options.signal, 'waiting for the ops received before')
    const merges: Array<Promise<MergeReport>> = []
    for (let i = 0; i < good.length || i === 0; i += MERGE_CHUNK_OPS) {
      const merged = writer.merge(good.slice(i, i + MERGE_CHUNK_OPS), options.signal)
      // Awaited below, with the others; a failure meanwhile is not unhandled.
      merged.catch(() => {})
      merges.push(merged)
    }
    submitted()
    const report = sumReports(await raceSignal(Promise.all(merges), options.signal, 'applying ops of other devices (they may still be applied)'))
    report.refused.unshift(...refused)
    return { ...report, unsealed }
  }

  /** Admits a device to the swarm's journal (an `admit` op); nothing is logged if it is admitted already. */
  async admit (device: string, publicKey: Uint8Array, options: AbortOptions = {}): Promise<void> {
    await this.#write(admitCall(device, publicKey), options)
  }

  /** Removes a device from the swarm (a `removeDevice` op); nothing is logged if it is removed already. */
  async removeDevice (device: string, options: AbortOptions = {}): Promise<void> {
    await this.#write(removeDeviceCall(device), options)
  }

  /** Records a re-keying of the swarm (a `keyEpoch` op naming the epoch and the key's fingerprint). */
  async recordKeyEpoch (epoch: number, keyId: string, options: AbortOptions = {}): Promise<void> {
    await this.#write(keyEpochCall(epoch, keyId), options)
  }

  /** Declares this device's failure domain with a `setDomain` op ('' for none); nothing is logged if the journal has it. */
  async setDomain (domain: string, options: AbortOptions = {}): Promise<void> {
    const current = (await this.domains(options)).get(this.#init.deviceId) ?? ''
    await this.#write(setDomainCall(domain, current), options)
  }

  /** The failure domains devices declared (device → label; '' entries are left out). */
  async domains (options: AbortOptions = {}): Promise<Map<string, string>> {
    await this.#barrier(options)
    const rows = await this.#opened().reader.all<{ author: string, public_key: Buffer }>("SELECT author, public_key FROM authors WHERE author LIKE '@domain/%'")
    const out = new Map<string, string>()
    for (const r of rows) {
      const d = decodeDomain(new Uint8Array(r.public_key))
      if (d != null && d !== '') out.set(r.author.slice('@domain/'.length), d)
    }
    return out
  }

  /** The latest re-keying the journal records (committed here), or undefined. */
  async keyEpoch (options: AbortOptions = {}): Promise<{ epoch: number, keyId: string } | undefined> {
    await this.#barrier(options)
    const row = await this.#opened().reader.get<{ public_key: Buffer }>('SELECT public_key FROM authors WHERE author=?', [KEY_EPOCH_ROW])
    return row == null ? undefined : decodeKeyEpoch(new Uint8Array(row.public_key))
  }

  /** The devices admitted and not removed (every admission answered so far, once it is in SQLite). */
  async admittedDevices (options: AbortOptions = {}): Promise<string[]> {
    await this.#barrier(options)
    const rows = await this.#opened().reader.all<{ author: string }>('SELECT author FROM authors WHERE length(public_key) = 32 ORDER BY author')
    return rows.map(r => r.author)
  }

  /** The devices removed from the swarm (every removal answered so far, once it is in SQLite). */
  async removedDevices (options: AbortOptions = {}): Promise<string[]> {
    await this.#barrier(options)
    const rows = await this.#opened().reader.all<{ author: string, public_key: Buffer }>('SELECT author, public_key FROM authors WHERE length(public_key) != 32')
    return rows.filter(r => isTombstone(new Uint8Array(r.public_key))).map(r => r.author)
  }

  /** The key of an admitted device (uncommitted admissions included), or undefined. */
  async #authorKey (author: string): Promise<Uint8Array | undefined> {
    const { writer, reader } = this.#opened()
    const staged = writer.peek(key.author(author))
    if (staged !== undefined) return staged === ABSENT ? undefined : staged as Uint8Array
    const row = await reader.get<{ public_key: Buffer }>('SELECT public_key FROM authors WHERE author=?', [author])
    return row == null ? undefined : new Uint8Array(row.public_key)
  }

  /** The op decoded from its signed bytes, or why it is refused. */
  #decoded (w: WireOp): SignedOp | string {
    let op
    try {
      op = decodeOp(w.body)
    } catch (err) {
      return `malformed: ${(err as Error).message}`
    }
    if (op.v !== OP_VERSION && op.v !== OP_VERSION_SLICES) return `format v${op.v}; this PALM reads v${OP_VERSION} and v${OP_VERSION_SLICES}: upgrade PALM`
    if (!Number.isSafeInteger(op.seq) || op.seq < 1) return 'malformed: bad seq'
    if ((w.author !== undefined && op.author !== w.author) || (w.seq !== undefined && op.seq !== w.seq)) return 'forged: the signed body names another author or seq'
    if (op.author === this.#init.deviceId && op.seq > this.#opened().writer.lastSeq(op.author)) return 'claims to be this device\'s own op, which this device never wrote'
    return w.sig == null ? { op, body: w.body } : { op, body: w.body, sig: w.sig }
  }

  /**
   * One op of another device (see applyRemote); throws why it was refused: PermissionError for an
   * untrusted author, IntegrityError for a bad signature, ProtocolError for malformed bytes,
   * InvalidArgumentError for a gap, an op claiming to be this device's, or an op that is not a
   * seal (one without a signature verifies only with the ops up to its seal: applyRemote).
   */
  async applyOp (signed: SignedOp, options: AbortOptions = {}): Promise<void> {
    const report = await this.applyRemote([{ body: signed.body, sig: signed.sig }], options)
    // Resolves once every op applied so far is committed: the change feed has reported it by then.
    await raceSignal(this.#opened().writer.barrier(), options.signal, 'waiting for a journal commit')
    const unsealed = report.unsealed[0]
    if (unsealed != null) throw new InvalidArgumentError(`op ${unsealed.seq}@${unsealed.author} was not applied: it carries no signature and is sealed by a later op of its batch; apply it with the ops up to that seal (applyRemote)`, { details: { author: unsealed.author } })
    const why = report.refused[0]
    if (why == null) return
    const message = `op ${why.seq}@${why.author} refused: ${why.reason}`
    const details = { author: why.author }
    if (why.reason.startsWith('untrusted')) throw new PermissionError(message, { details })
    if (why.reason.startsWith('bad signature')) throw new IntegrityError(message, { details })
    if (why.reason.startsWith('malformed')) throw new ProtocolError(message, { details })
    throw new InvalidArgumentError(message, { details })
  }
}

/** Ops handed to the writer in one merge (applyRemote): it commits one chunk while it applies the next. */
const MERGE_CHUNK_OPS = 1024

function keyOf (s: SignedOp): OpKey {
  return { hlc: s.op.hlc, author: s.op.author, seq: s.op.seq }
}

/** The reports of a batch's merges as one. */
function sumReports (reports: MergeReport[]): MergeReport {
  const out: MergeReport = { applied: 0, duplicates: 0, renamed: 0, skipped: 0, refused: [] }
  for (const r of reports) {
    out.applied += r.applied
    out.duplicates += r.duplicates
    out.renamed += r.renamed
    out.skipped += r.skipped
    out.refused.push(...r.refused)
  }
  return out
}

/** The author of a wire op, for a refusal (best effort: the body may not parse). */
function authorOf (w: WireOp): string {
  return /"author":"([^"]{1,128})"/.exec(w.body)?.[1] ?? 'unknown'
}

function seqOf (w: WireOp): number {
  return Number(/"seq":(\d{1,15})/.exec(w.body)?.[1] ?? 0)
}
