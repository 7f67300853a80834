/**
 * Helpers and constants shared by the POSIX suite's files.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { constants as C } from 'node:fs'
import type { PosixTarget } from './posix-target.js'

export const MiB = 1024 * 1024
export const GiB = 1024 * MiB
export const S_IFMT = 0o170000
export const S_IFREG = 0o100000
export const S_IFDIR = 0o040000
export const S_IFLNK = 0o120000
export const RW_CREATE = C.O_RDWR | C.O_CREAT

export const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
export const text = (s: string): Uint8Array => new TextEncoder().encode(s)
export const str = (b: Uint8Array): string => new TextDecoder().decode(b)

/** Asserts that `p` rejects with one of `codes`. */
export async function rejectsWith (p: Promise<unknown>, codes: string | string[]): Promise<void> {
  const want = Array.isArray(codes) ? codes : [codes]
  await assert.rejects(p, (err: unknown) => {
    const code = (err as { code?: unknown }).code
    assert.ok(want.includes(String(code)), `expected ${want.join('|')}, got ${String(code)}: ${(err as Error).message}`)
    return true
  })
}

/** Writes `data` through one descriptor in `chunk`-byte writes. */
export async function writeAll (t: PosixTarget, fd: number, data: Uint8Array, at = 0, chunk = 128 * 1024): Promise<void> {
  for (let o = 0; o < data.length; o += chunk) {
    const n = await t.write(fd, data.subarray(o, Math.min(data.length, o + chunk)), at + o)
    assert.equal(n, Math.min(chunk, data.length - o))
  }
}
