import type { AbortOptions } from '../../util/abort.js'
import type { VfsCore } from '../core.js'
import type { VfsContext, VfsDirent } from '../types.js'

/** Offsets 1 and 2 follow "." and ".."; an entry with meta cookie c is followed by offset c + 2. */
const FIRST_ENTRY_OFFSET = 2

/**
 * Up to `limit` entries from `offset`: "." (0), ".." (1), then meta's entries in cookie order.
 * With `plus`, each entry carries its attributes (with the open-file overlay); the kernel then
 * holds a lookup on every entry but "." and ".." that the adapter sends (rememberLookup).
 */
export async function readdir (core: VfsCore, _ctx: VfsContext, ino: number, fh: number, offset: number, limit: number, plus: boolean, options: AbortOptions): Promise<VfsDirent[]> {
  core.handles.get(fh, ino, 'dir')
  const out: VfsDirent[] = []
  if (limit <= 0) return out
  if (offset < 1) {
    out.push({ name: '.', ino, type: 'dir', nextOffset: 1, countsLookup: false })
  }
  if (offset < FIRST_ENTRY_OFFSET && out.length < limit) {
    out.push({ name: '..', ino: await core.meta.parentOf(ino, options), type: 'dir', nextOffset: FIRST_ENTRY_OFFSET, countsLookup: false })
  }
  const room = limit - out.length
  if (room > 0) {
    const cookie = Math.max(0, offset - FIRST_ENTRY_OFFSET)
    const entries = await core.meta.readdir(ino, cookie, room, options)
    for (const e of entries) {
      out.push({ name: e.name, ino: e.ino, type: e.type, nextOffset: e.cookie + FIRST_ENTRY_OFFSET, countsLookup: plus })
    }
  }
  if (plus) {
    await Promise.all(out.map(async (d) => { d.attr = await core.getattr(d.ino, options) }))
  }
  return out
}
