/**
 * Moving bytes to a worker without copying them. A view is moved only when it spans its whole
 * ArrayBuffer: moving a view into a larger buffer (Node's Buffer pool, a network chunk) would
 * detach bytes that belong to someone else, so those are copied instead. Shared memory (a
 * SharedArrayBuffer: the write buffer's stripes, src/vfs/dirty-stripe.ts) is neither moved nor
 * copied: the worker reads the caller's bytes, and the caller does not write them until the job
 * ends (the write buffer copies a stripe on write while a store of it runs). A job aborted while
 * it runs releases its caller at once, but its worker may still read the bytes: what it makes from
 * them is dropped, so a caller that writes them after an abort (the write buffer, once the store
 * failed) loses nothing but that dropped result.
 */

/** Bytes the pool may read, and the buffer to list in postMessage's transfer list (none when shared). */
export interface Owned {
  view: Uint8Array
  buffer?: ArrayBuffer
}

/** True when `u8` is a view of shared memory (posted to a worker without a copy). */
export function isShared (u8: Uint8Array): boolean {
  return u8.buffer instanceof SharedArrayBuffer
}

/** True when `u8` is a plain (not shared) ArrayBuffer's whole extent. */
export function ownsWholeBuffer (u8: Uint8Array): boolean {
  return u8.buffer instanceof ArrayBuffer && u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength
}

/**
 * Takes `u8` for the pool. Shared memory is used as it is. With `move` and a whole-buffer view,
 * the caller's view is detached at once (length 0) and its memory now belongs to the pool;
 * otherwise the bytes are copied and the caller's view is left alone.
 */
export function take (u8: Uint8Array, move: boolean): Owned {
  if (isShared(u8)) return { view: u8 }
  if (move && ownsWholeBuffer(u8)) {
    try {
      const view = structuredClone(u8, { transfer: [u8.buffer as ArrayBuffer] })
      return { view, buffer: view.buffer as ArrayBuffer }
    } catch {
      // Buffers Node marks untransferable fall through to a copy.
    }
  }
  const view = new Uint8Array(u8)
  return { view, buffer: view.buffer }
}

/** The buffers to list in postMessage's transfer list for `owned` (shared memory is not listed). */
export function transferList (owned: Owned[]): ArrayBuffer[] {
  return owned.flatMap(o => o.buffer != null ? [o.buffer] : [])
}
