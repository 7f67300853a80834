/**
 * Which stripes of a file an fsync must flush, known without asking the journal. Before, every
 * fsync listed all the file's stripes with `meta.getStripes`, which first waits for the journal's
 * SQLite commit of the setContent just applied (a forced commit and a WAL write per fsync, before
 * any flush could start).
 *
 * An inode is *tracked* once this VFS knows every stripe of it that may not be on stable storage:
 * a file created here (it had none), or a file whose stripes one full walk has just synced. From
 * then on every stripe stored for it (accepted into the open-file state) is added, and an fsync
 * syncs exactly those. Anything that may add stripes behind the VFS's back untracks the inode:
 * another device's change to its content (remote-changes.ts) and the inode's release. The first
 * fsync of an untracked inode walks the manifest as before (stripes written before a restart, or
 * by another device). Forgetting is always safe (it only costs that walk), so memory is bounded by
 * dropping: at most MAX_TRACKED inodes (oldest first) and MAX_STRIPES stripes per inode.
 */
import type { PlacedStripe } from '../place/types.js'

const MAX_TRACKED = 4096
const MAX_STRIPES = 4096

export class UnsyncedStripes {
  /** Tracked inodes → stripes stored since their last fsync, by stripe id. */
  readonly #byIno = new Map<number, Map<string, PlacedStripe>>()
  /** Flushes running per inode (an fsync waits for those that started before it). */
  readonly #inflight = new Map<number, Set<Promise<void>>>()

  /** `ino` has no stripe that is not in this set (a new file; or one whose stripes were all just synced). */
  track (ino: number): void {
    this.#byIno.delete(ino)
    if (this.#byIno.size >= MAX_TRACKED) {
      const oldest = this.#byIno.keys().next().value
      if (oldest !== undefined) this.#byIno.delete(oldest)
    }
    this.#byIno.set(ino, new Map())
  }

  /** Stripes of `ino` may exist that this set does not know (remote change, release). */
  untrack (ino: number): void {
    this.#byIno.delete(ino)
  }

  /** A stripe of `ino` was stored (not yet flushed). */
  stored (ino: number, stripe: PlacedStripe): void {
    const set = this.#byIno.get(ino)
    if (set == null) return
    if (set.size >= MAX_STRIPES) { this.#byIno.delete(ino); return }
    set.set(stripe.id, stripe)
  }

  /**
   * Flushes what an fsync of `ino` needs. A tracked inode flushes the stripes stored since its last
   * fsync with `flush`; an untracked one is tracked from now on (stores during the walk are kept)
   * and walked with `walk`. Either way it also waits for flushes of `ino` already running, which
   * took stripes this caller needs. A failed flush gives its stripes back (or untracks the inode).
   */
  async sync (ino: number, flush: (stripes: PlacedStripe[]) => Promise<void>, walk: () => Promise<void>): Promise<void> {
    const earlier = [...(this.#inflight.get(ino) ?? [])]
    const set = this.#byIno.get(ino)
    let run: Promise<void> | undefined
    if (set == null) {
      this.track(ino)
      run = walk().catch((err: unknown) => { this.untrack(ino); throw err })
    } else if (set.size > 0) {
      const stripes = [...set.values()]
      set.clear()
      run = flush(stripes).catch((err: unknown) => { for (const s of stripes) this.stored(ino, s); throw err })
    }
    if (run != null) {
      const runs = this.#inflight.get(ino) ?? new Set()
      runs.add(run)
      this.#inflight.set(ino, runs)
      const done = (): void => { runs.delete(run as Promise<void>); if (runs.size === 0 && this.#inflight.get(ino) === runs) this.#inflight.delete(ino) }
      run.then(done, done)
      earlier.push(run)
    }
    await Promise.all(earlier)
  }
}
