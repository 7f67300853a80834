/**
 * Tells the kernel what another device changed: `notifyInvalEntry(parent, name)` for names,
 * `notifyInvalInode(ino, 0, 0)` for content (pages and attributes) and `(ino, -1, 0)` for
 * attributes only.
 *
 * The deadlock rule (libfuse fuse_lowlevel.h): a notification must not be sent from the execution
 * path of an op on a related inode, nor while holding a lock such an op needs, because the kernel
 * makes it wait for the directory or page locks that op holds. Here two things keep that from
 * happening:
 * - the binding never sends a notification on the JS thread that answers requests: `notify*`
 *   only queue it for its notifier thread (native/fuse/src/session.c, docs/fuse-binding.md). If
 *   the kernel makes that thread wait for a lock held by a request in flight, the JS thread is
 *   free to answer the request, which releases the lock. No VFS op ever waits for a notification;
 * - this class does not even queue from inside the journal's commit (which may run in the
 *   continuation of an op): it collects invalidations and hands them over on a later macrotask
 *   (setImmediate), coalesced, so a burst of remote batches costs one notification per name or inode.
 *
 * Memory: pending invalidations are bounded by the kernel's own cache (the VFS lists only inodes
 * and names the kernel can hold) and deduplicated until the next tick.
 */
import type { Logger } from '@libp2p/interface'
import type { FuseSession } from '../../native/fuse/types.js'
import type { VfsInvalidation } from '../vfs/types.js'

/** Counters of the notifier (for tests and status). */
export interface NotifierStats {
  /** notifyInvalEntry calls handed to the binding. */
  entries: number
  /** notifyInvalInode calls with data (offset 0). */
  data: number
  /** notifyInvalInode calls for attributes only (offset -1). */
  attrs: number
  /** Hand-overs (ticks that sent something). */
  flushes: number
}

export class KernelNotifier {
  readonly #session: Pick<FuseSession, 'notifyInvalEntry' | 'notifyInvalInode'>
  readonly #log: Logger
  readonly #entries = new Map<string, { parent: number, name: string }>()
  readonly #data = new Set<number>()
  readonly #attrs = new Set<number>()
  #scheduled: NodeJS.Immediate | undefined
  #closed = false
  readonly stats: NotifierStats = { entries: 0, data: 0, attrs: 0, flushes: 0 }

  constructor (session: Pick<FuseSession, 'notifyInvalEntry' | 'notifyInvalInode'>, log: Logger) {
    this.#session = session
    this.#log = log
  }

  /** Queues `inv` for the next tick. Never calls the binding synchronously. */
  queue (inv: VfsInvalidation): void {
    if (this.#closed) return
    for (const e of inv.entries) this.#entries.set(`${e.parent}/${e.name}`, e)
    for (const ino of inv.data) { this.#data.add(ino); this.#attrs.delete(ino) }
    for (const ino of inv.attrs) if (!this.#data.has(ino)) this.#attrs.add(ino)
    this.#scheduled ??= setImmediate(() => { this.#flush() })
  }

  /** Stops sending (the session is ending); what is queued is dropped. */
  close (): void {
    this.#closed = true
    if (this.#scheduled != null) clearImmediate(this.#scheduled)
    this.#scheduled = undefined
    this.#entries.clear()
    this.#data.clear()
    this.#attrs.clear()
  }

  #flush (): void {
    this.#scheduled = undefined
    if (this.#closed) return
    try {
      // Names first: a lookup that follows finds the new inode before its attributes are asked.
      for (const e of this.#entries.values()) { this.#session.notifyInvalEntry(e.parent, e.name); this.stats.entries++ }
      for (const ino of this.#data) { this.#session.notifyInvalInode(ino, 0, 0); this.stats.data++ }
      for (const ino of this.#attrs) { this.#session.notifyInvalInode(ino, -1, 0); this.stats.attrs++ }
      this.stats.flushes++
      this.#log.trace('kernel invalidations: %d names, %d inodes with data, %d attributes only', this.#entries.size, this.#data.size, this.#attrs.size)
    } catch (err) {
      this.#log.error('telling the kernel about remote changes failed (it will see them when its cache times out): %e', err)
    } finally {
      this.#entries.clear()
      this.#data.clear()
      this.#attrs.clear()
    }
  }
}
