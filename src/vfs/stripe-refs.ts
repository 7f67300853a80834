/**
 * A small per-inode cache of manifest refs for the read path: one window of up to REF_WINDOW
 * stripes per inode plus its stripe size, valid while the inode's size, mtime and ctime are those
 * it was read under (every content change moves ctime). A sequential read then asks meta for refs
 * once per window instead of once per 128 KiB request. Bounded: MAX_INODES windows, oldest dropped.
 */
import type { Attr, MetaStore, StripeRef } from '../meta/types.js'
import type { AbortOptions } from '../util/abort.js'

/** Stripes per window (256 MiB of 4 MiB stripes). */
const REF_WINDOW = 64
const MAX_INODES = 1024

interface Window {
  stamp: string
  stripeSize: number | undefined
  from: number
  to: number
  refs: Map<number, StripeRef>
}

/** What identifies one committed state of an inode's content (size, mtime, ctime). */
export const stampOf = (a: Attr): string => `${a.size}:${a.mtimeNs}:${a.ctimeNs}`

/** Per-inode windows of manifest refs for the read path (bounded: 1024 inodes × 64 refs). */
export class StripeRefCache {
  readonly #meta: Pick<MetaStore, 'getStripes' | 'stripeSizeOf'>
  readonly #windows = new Map<number, Window>()

  constructor (meta: Pick<MetaStore, 'getStripes' | 'stripeSizeOf'>) {
    this.#meta = meta
  }

  #window (attr: Attr): Window | undefined {
    const w = this.#windows.get(attr.ino)
    if (w != null && w.stamp === stampOf(attr)) return w
    return undefined
  }

  #keep (ino: number, w: Window): void {
    this.#windows.delete(ino)
    if (this.#windows.size >= MAX_INODES) {
      const oldest = this.#windows.keys().next().value
      if (oldest !== undefined) this.#windows.delete(oldest)
    }
    this.#windows.set(ino, w)
  }

  /**
   * Forgets the window of `ino` (its content changed elsewhere: a remote op); returns the stripe
   * ids it held, so the caller can drop their decoded bytes too.
   */
  drop (ino: number): string[] {
    const w = this.#windows.get(ino)
    if (w == null) return []
    this.#windows.delete(ino)
    return [...w.refs.values()].map(r => r.id)
  }

  /** The file's stripe size (undefined: it never had content), for committed content `attr`. */
  async stripeSize (attr: Attr, options: AbortOptions = {}): Promise<number | undefined> {
    const w = this.#window(attr)
    if (w != null) return w.stripeSize
    const stripeSize = await this.#meta.stripeSizeOf(attr.ino, options)
    this.#keep(attr.ino, { stamp: stampOf(attr), stripeSize, from: 0, to: 0, refs: new Map() })
    return stripeSize
  }

  /** Refs of the stored stripes in [first, last] (holes absent) for committed content `attr`. */
  async refs (attr: Attr, first: number, last: number, options: AbortOptions = {}): Promise<Map<number, StripeRef>> {
    let w = this.#window(attr)
    if (w == null || first < w.from || last >= w.to) {
      const stripeSize = w?.stripeSize ?? await this.#meta.stripeSizeOf(attr.ino, options)
      const to = Math.max(last + 1, first + REF_WINDOW)
      const list = await this.#meta.getStripes(attr.ino, first, to, options)
      w = { stamp: stampOf(attr), stripeSize, from: first, to, refs: new Map(list.map(s => [s.index, s])) }
      this.#keep(attr.ino, w)
    }
    return w.refs
  }
}
