/**
 * Inodes of the in-memory test file system (memfs.ts): sparse file data in growable chunks, times in
 * seconds + nanoseconds, and the kernel's lookup count kept per inode.
 */
import { constants } from 'node:os'
import type { FuseAttr, FuseEntry } from '../../native/fuse/index.js'

export const S_IFMT = 0o170000
export const S_IFDIR = 0o040000
export const S_IFREG = 0o100000
export const S_IFLNK = 0o120000

/** Data is kept in chunks of this size; a chunk grows (doubling) only as far as it is written. */
const CHUNK = 1 << 20

export type Time = [sec: number, nsec: number]

export interface MemNode {
  ino: number
  mode: number
  nlink: number
  uid: number
  gid: number
  rdev: number
  size: number
  atime: Time
  mtime: Time
  ctime: Time
  chunks?: Map<number, Buffer>
  /** Directories: name → child inode and its readdir cookie (increasing in insertion order). */
  entries?: Map<string, { ino: number, cookie: number }>
  nextCookie: number
  parent: number
  target?: string
  xattrs: Map<string, Buffer>
  /** References the kernel holds (lookup replies minus forgets). */
  lookups: number
  opens: number
  /** Reads never answer until the test releases them (name starts with "hang"). */
  hang: boolean
}

/** A rejection with a negative errno, as the binding expects. */
export function fsErr (code: keyof typeof constants.errno): { errno: number, code: string } {
  return { errno: -constants.errno[code], code }
}

/** Wall-clock time with microsecond resolution, as [sec, nsec]. */
export function now (): Time {
  const ms = performance.timeOrigin + performance.now()
  const sec = Math.floor(ms / 1000)
  return [sec, Math.min(999_999_999, Math.round((ms - sec * 1000) * 1e6))]
}

export function attrOf (n: MemNode): FuseAttr {
  return {
    ino: n.ino,
    mode: n.mode,
    nlink: n.nlink,
    uid: n.uid,
    gid: n.gid,
    rdev: n.rdev,
    size: n.size,
    blocks: Math.ceil(n.size / 512),
    atimeSec: n.atime[0],
    atimeNsec: n.atime[1],
    mtimeSec: n.mtime[0],
    mtimeNsec: n.mtime[1],
    ctimeSec: n.ctime[0],
    ctimeNsec: n.ctime[1]
  }
}

/** A lookup-style reply: the kernel now holds one more reference. */
export function entryOf (n: MemNode): FuseEntry {
  n.lookups++
  return { attr: attrOf(n) }
}

/** Copies `data` into the file at `offset` (the caller's buffer is not kept). */
export function writeData (n: MemNode, offset: number, data: Uint8Array): void {
  n.chunks ??= new Map()
  let done = 0
  while (done < data.length) {
    const pos = offset + done
    const ci = Math.floor(pos / CHUNK)
    const within = pos - ci * CHUNK
    const take = Math.min(data.length - done, CHUNK - within)
    let chunk = n.chunks.get(ci)
    if (chunk == null || chunk.length < within + take) {
      let cap = Math.max(4096, chunk?.length ?? 0)
      while (cap < within + take) cap *= 2
      const grown = Buffer.alloc(Math.min(CHUNK, cap))
      if (chunk != null) chunk.copy(grown)
      chunk = grown
      n.chunks.set(ci, chunk)
    }
    chunk.set(data.subarray(done, done + take), within)
    done += take
  }
  if (offset + data.length > n.size) n.size = offset + data.length
}

/** Up to `size` bytes at `offset`; holes read as zeros. Zero-copy when one chunk holds it all. */
export function readData (n: MemNode, offset: number, size: number): Uint8Array {
  const end = Math.min(n.size, offset + size)
  if (offset >= end) return new Uint8Array(0)
  const len = end - offset
  const ci = Math.floor(offset / CHUNK)
  const within = offset - ci * CHUNK
  const first = n.chunks?.get(ci)
  if (first != null && within + len <= first.length) return first.subarray(within, within + len)
  const out = Buffer.alloc(len)
  for (let pos = offset; pos < end;) {
    const c = Math.floor(pos / CHUNK)
    const w = pos - c * CHUNK
    const take = Math.min(end - pos, CHUNK - w)
    const chunk = n.chunks?.get(c)
    if (chunk != null && w < chunk.length) chunk.copy(out, pos - offset, w, Math.min(chunk.length, w + take))
    pos += take
  }
  return out
}

/** Sets the size; data past it is dropped so that growing again reads zeros. */
export function truncateData (n: MemNode, size: number): void {
  if (n.chunks != null) {
    for (const [ci, chunk] of n.chunks) {
      const start = ci * CHUNK
      if (start >= size) n.chunks.delete(ci)
      else if (start + chunk.length > size) chunk.fill(0, size - start)
    }
  }
  n.size = size
}
