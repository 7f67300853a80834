/**
 * Open file handles of pack segments, shared by readers, reference-counted and bounded
 * (MAX_OPEN_SEGMENTS): the least recently used idle handle is closed when the bound is passed. A
 * segment removed by compaction keeps serving reads that hold its handle (unlinked files stay
 * readable on POSIX) and is closed when the last one lets go.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { MAX_OPEN_SEGMENTS } from './constants.js'

interface Entry {
  opening: Promise<FileHandle>
  refs: number
  retired: boolean
}

/** Shared read handles of pack segments (bounded, reference-counted). */
export class SegmentHandles {
  readonly #entries = new Map<number, Entry>()
  readonly #pathOf: (segment: number) => string
  readonly #maxOpen: number

  constructor (pathOf: (segment: number) => string, maxOpen = MAX_OPEN_SEGMENTS) {
    this.#pathOf = pathOf
    this.#maxOpen = maxOpen
  }

  /** Runs `fn` with an open handle of `segment` (opened read-only on first use). */
  async with<T> (segment: number, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    let entry = this.#entries.get(segment)
    if (entry == null || entry.retired) {
      entry = { opening: open(this.#pathOf(segment), 'r'), refs: 0, retired: false }
      // A failed open is reported to the caller below; the next call tries again.
      entry.opening.catch(() => {})
      this.#entries.set(segment, entry)
    } else {
      // Move to the end of the map's order: the map doubles as the LRU list.
      this.#entries.delete(segment)
      this.#entries.set(segment, entry)
    }
    entry.refs++
    try {
      const fh = await entry.opening
      return await fn(fh)
    } finally {
      entry.refs--
      await this.#trim(segment, entry)
    }
  }

  /** The segment is gone (compaction): close its handle once idle; later calls open afresh (and fail with ENOENT). */
  async retire (segment: number): Promise<void> {
    const entry = this.#entries.get(segment)
    if (entry == null) return
    entry.retired = true
    this.#entries.delete(segment)
    if (entry.refs === 0) await closeQuietly(entry)
  }

  /** Closes every handle (store stop). */
  async closeAll (): Promise<void> {
    const entries = [...this.#entries.values()]
    this.#entries.clear()
    await Promise.all(entries.map(closeQuietly))
  }

  async #trim (segment: number, entry: Entry): Promise<void> {
    if (entry.retired || this.#entries.get(segment) !== entry) {
      if (entry.refs === 0) await closeQuietly(entry)
      return
    }
    if (this.#entries.size <= this.#maxOpen) return
    for (const [seg, e] of this.#entries) {
      if (this.#entries.size <= this.#maxOpen) break
      if (e.refs > 0) continue
      this.#entries.delete(seg)
      await closeQuietly(e)
    }
  }
}

async function closeQuietly (entry: Entry): Promise<void> {
  try { await (await entry.opening).close() } catch { /* never opened, or already closed */ }
}
