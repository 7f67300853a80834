/**
 * Open handles (fh): numbers below 2^53 so they survive a JS number and the 64-bit FUSE field.
 * A handle remembers its open flags (append, access mode) and its sequential-read state.
 */
import { BadHandleError } from '../errors.js'
import { O_ACCMODE, O_APPEND, O_RDWR, O_WRONLY } from './constants.js'

/** One open file or directory handle. */
export interface Handle {
  readonly fh: number
  readonly ino: number
  readonly kind: 'file' | 'dir'
  readonly flags: number
  readonly readable: boolean
  readonly writable: boolean
  readonly append: boolean
  /** Where the next read starts if the reader is sequential. */
  nextReadOffset: number
  /** Consecutive sequential reads. */
  sequentialReads: number
  /** Stripe index up to which read-ahead was started. */
  readAheadTo: number
}

/** Open handles by fh. */
export class HandleTable {
  readonly #handles = new Map<number, Handle>()
  #next = 1

  get size (): number { return this.#handles.size }

  open (ino: number, kind: 'file' | 'dir', flags: number): Handle {
    const acc = flags & O_ACCMODE
    let fh = this.#next
    while (this.#handles.has(fh)) fh = fh >= Number.MAX_SAFE_INTEGER ? 1 : fh + 1
    this.#next = fh >= Number.MAX_SAFE_INTEGER ? 1 : fh + 1
    const h: Handle = {
      fh,
      ino,
      kind,
      flags,
      readable: acc !== O_WRONLY,
      writable: acc === O_WRONLY || acc === O_RDWR,
      append: (flags & O_APPEND) !== 0,
      nextReadOffset: 0,
      sequentialReads: 0,
      readAheadTo: 0
    }
    this.#handles.set(fh, h)
    return h
  }

  /** The handle, checked to belong to `ino` and be of `kind`; BadHandleError otherwise. */
  get (fh: number, ino: number, kind: 'file' | 'dir'): Handle {
    const h = this.#handles.get(fh)
    if (h == null || h.ino !== ino || h.kind !== kind) {
      throw new BadHandleError(`handle ${fh} is not an open ${kind === 'dir' ? 'directory' : 'file'} handle of inode ${ino}; reopen the file`, { details: { fh, ino } })
    }
    return h
  }

  /** Removes and returns the handle (BadHandleError if unknown). */
  close (fh: number, ino: number, kind: 'file' | 'dir'): Handle {
    const h = this.get(fh, ino, kind)
    this.#handles.delete(fh)
    return h
  }
}
