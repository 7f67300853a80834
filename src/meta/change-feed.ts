/**
 * The change feed: what each committed batch changed, for the VFS (caches) and through it the
 * kernel (FUSE invalidations). It is derived from the batch after its commit, so application
 * (apply*.ts) and the writer stay as they are; the writer only calls `onCommit(batch)`.
 *
 * - inodes, entries and xattrs come from the batch's final values by key (`i<ino>`,
 *   `d<parent>/<name>`, `x<ino>/<name>`; `n<node>` keys only mirror inode rows);
 * - content comes from the batch's stripe keys (`s<ino>/<idx>`: written, replaced or dropped by
 *   setContent, truncation, release, conflict copies);
 * - remote: an author other than this device has an op in the batch (a batch may mix local and
 *   remote ops: then everything in it is reported remote, which costs subscribers only an extra
 *   invalidation), or a local `holders` op (repair), which did not pass through the VFS either.
 *
 * Why per committed batch rather than per applied op: a batch is one coalesced event (a remote
 * burst of 1 000 ops is one event, not 1 000); a failed commit drops its ops again, and nothing of
 * them is reported; and readers never see a change before the view has it, so a cache dropped at
 * commit can only have been refilled with the new values. Remote ops start their commit at once
 * (they have no early answer), so the feed lags their application by one commit (~1 ms).
 */
import type { Logger } from '../util/logger.js'
import type { Batch } from './batch.js'
import type { ChangeListenerOptions, JournalChange } from './types.js'

/** What `batch` changed; undefined when it changed nothing. `self` is this device's author id. */
export function journalChangeOf (batch: Pick<Batch, 'changes' | 'lastSeq'> & Partial<Pick<Batch, 'stmts'>>, self: string): JournalChange | undefined {
  const inodes = new Set<number>()
  const xattrs = new Set<number>()
  const content = new Set<number>()
  const entries: Array<{ parent: number, name: string }> = []
  let members = false
  for (const k of batch.changes.keys()) {
    switch (k.charCodeAt(0)) {
      case 0x69: // i<ino>
        inodes.add(Number(k.slice(1)))
        break
      case 0x64: { // d<parent>/<name>
        const slash = k.indexOf('/')
        entries.push({ parent: Number(k.slice(1, slash)), name: k.slice(slash + 1) })
        break
      }
      case 0x78: // x<ino>/<name>
        xattrs.add(Number(k.slice(1, k.indexOf('/'))))
        break
      case 0x73: // s<ino>/<idx>
        content.add(Number(k.slice(1, k.indexOf('/'))))
        break
      case 0x61: // a<device>: an admission, removal, re-keying or failure domain
        members = true
        break
      default: // n<node> mirrors an inode row; N<ino> is a name hint
    }
  }
  if (inodes.size === 0 && entries.length === 0 && xattrs.size === 0 && content.size === 0 && !members) return undefined
  return { remote: isRemote(batch, self), inodes: [...inodes], entries, content: [...content], xattrs: [...xattrs], ...(members ? { members } : {}) }
}

/**
 * True when an author other than `self` has an op in the batch, or the batch holds a local
 * `holders` or `reencode` op (repair): neither passed through this device's VFS, whose caches must drop them.
 */
export function isRemote (batch: Pick<Batch, 'lastSeq'> & Partial<Pick<Batch, 'stmts'>>, self: string): boolean {
  for (const author of batch.lastSeq.keys()) if (author !== self) return true
  return batch.stmts?.some(s => typeof s !== 'string' && (s.kind === 'holders' || s.kind === 'reencode')) ?? false
}

interface Listener {
  fn: (c: JournalChange) => void
  remoteOnly: boolean
}

/** Listeners of the change feed. */
export class ChangeFeed {
  readonly #listeners = new Set<Listener>()
  readonly #self: string
  readonly #log: Logger

  constructor (self: string, log: Logger) {
    this.#self = self
    this.#log = log
  }

  /** Adds a listener; returns its removal (idempotent). */
  on (listener: (c: JournalChange) => void, options: ChangeListenerOptions = {}): () => void {
    // An object per subscription: the same function subscribed twice is two subscriptions.
    const l: Listener = { fn: listener, remoteOnly: options.remoteOnly ?? false }
    this.#listeners.add(l)
    return () => { this.#listeners.delete(l) }
  }

  /**
   * Reports a committed batch to its listeners. Nothing is computed for a batch no listener wants
   * (a local batch when every listener is remote-only: the VFS's case, so local writes pay a scan
   * of the batch's authors only; computing a change costs ~1.5 µs per op).
   */
  committed (batch: Batch): void {
    if (this.#listeners.size === 0) return
    const remote = isRemote(batch, this.#self)
    let wanted = false
    for (const l of this.#listeners) if (remote || !l.remoteOnly) wanted = true
    if (!wanted) return
    const change = journalChangeOf(batch, this.#self)
    if (change == null) return
    for (const l of [...this.#listeners]) {
      if (l.remoteOnly && !remote) continue
      try {
        l.fn(change)
      } catch (err) {
        this.#log.error('a change-feed listener failed (the journal is unaffected): %e', err)
      }
    }
  }
}
