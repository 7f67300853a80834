/**
 * Moving bytes to a worker without copying them. A view is moved only when it spans its whole
 * ArrayBuffer: moving a view into a larger buffer (Node's Buffer pool, a network chunk) would
 * detach bytes that belong to someone else, so those are copied instead.
 */

/** Bytes owned by the pool, and the buffer to list in postMessage's transfer list. */
export interface Owned {
  view: Uint8Array
  buffer: ArrayBuffer
}

/** True when `u8` is a plain (not shared) ArrayBuffer's whole extent. */
export function ownsWholeBuffer (u8: Uint8Array): boolean {
  return u8.buffer instanceof ArrayBuffer && u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength
}

/**
 * Takes `u8` for the pool. With `move` and a whole-buffer view, the caller's view is detached at
 * once (length 0) and its memory now belongs to the pool; otherwise the bytes are copied and the
 * caller's view is left alone.
 */
export function take (u8: Uint8Array, move: boolean): Owned {
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
