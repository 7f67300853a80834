/**
 * Orders each read of an inode behind the writes of that inode that reached the VFS before it.
 *
 * The kernel may drop a cached page that a write(2) has just filled while its WRITE request is
 * still being answered here (page-cache invalidation does not wait for buffered writes), and a
 * reader then reads that page back. If that READ were answered from the state before the WRITE,
 * the reply would end at the old end of file; the kernel zero-fills the rest of the page, marks it
 * up to date, and once the write's new size is in place serves those zeros to every later reader.
 * Requests reach the VFS in the order the kernel queued them (the JS thread reads /dev/fuse and
 * calls the VFS synchronously up to its first await), so a read queued after a WRITE waits for it.
 */
export class WriteOrder {
  readonly #inflight = new Map<number, Set<Promise<void>>>()

  /** Registers a write of `ino` (call before the first await); the returned function ends it. */
  begin (ino: number): () => void {
    let end!: () => void
    const done = new Promise<void>(resolve => { end = resolve })
    let set = this.#inflight.get(ino)
    if (set == null) {
      set = new Set()
      this.#inflight.set(ino, set)
    }
    set.add(done)
    return () => {
      end()
      set.delete(done)
      if (set.size === 0 && this.#inflight.get(ino) === set) this.#inflight.delete(ino)
    }
  }

  /** Settles when every write of `ino` begun before this call has ended; undefined when none runs. */
  before (ino: number): Promise<void> | undefined {
    const set = this.#inflight.get(ino)
    if (set == null || set.size === 0) return undefined
    return Promise.all([...set]).then(() => undefined)
  }

  /** Writes running now (stats). */
  get running (): number {
    let n = 0
    for (const s of this.#inflight.values()) n += s.size
    return n
  }
}
