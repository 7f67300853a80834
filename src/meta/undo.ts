/**
 * Undo records: what an op's changes replaced, key by key (docs/journal.md, "Late ops"). Restoring
 * them in reverse order undoes the op. They are stored with the op (`ops.undo`) as JSON; a value's
 * type follows from its key's kind (i inode, d entry, x xattr, s stripe, n node → ino), null is
 * "absent".
 */
import { ABSENT, type Cached } from './cache.js'
import type { DentryRec, InodeRec } from './records.js'
import type { StripeRef } from './types.js'

export interface Undo {
  /** (key, value before the op), in the order the op first changed them. */
  priors: Array<[string, Cached]>
  /** Counter deltas the op made (files, dirs, logical bytes). */
  files: number
  dirs: number
  bytes: number
}

export const EMPTY_UNDO: Undo = { priors: [], files: 0, dirs: 0, bytes: 0 }

const INODE_BIGINTS = ['atimeNs', 'mtimeNs', 'ctimeNs'] as const

function encodeValue (k: string, v: Cached): unknown {
  if (v === ABSENT) return null
  switch (k.charCodeAt(0)) {
    case 0x69: { // inode: bigints as strings
      const r = v as InodeRec
      return { ...r, atimeNs: r.atimeNs.toString(), mtimeNs: r.mtimeNs.toString(), ctimeNs: r.ctimeNs.toString() }
    }
    case 0x78:
    case 0x61: return Buffer.from(v as Uint8Array).toString('base64')
    default: return v
  }
}

function decodeValue (k: string, v: unknown): Cached {
  if (v === null) return ABSENT
  switch (k.charCodeAt(0)) {
    case 0x69: {
      const r = { ...(v as Record<string, unknown>) }
      for (const f of INODE_BIGINTS) r[f] = BigInt(r[f] as string)
      return r as unknown as InodeRec
    }
    case 0x78:
    case 0x61: return new Uint8Array(Buffer.from(v as string, 'base64'))
    case 0x64: return v as DentryRec
    case 0x73: return v as StripeRef
    default: return v as number
  }
}

export function encodeUndo (u: Undo): string {
  return JSON.stringify({ p: u.priors.map(([k, v]) => [k, encodeValue(k, v)]), f: u.files, d: u.dirs, b: u.bytes })
}

export function decodeUndo (text: string | null): Undo {
  if (text == null || text === '') return EMPTY_UNDO
  const w = JSON.parse(text) as { p: Array<[string, unknown]>, f: number, d: number, b: number }
  return { priors: w.p.map(([k, v]) => [k, decodeValue(k, v)]), files: w.f, dirs: w.d, bytes: w.b }
}
