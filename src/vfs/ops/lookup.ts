import type { Attr } from '../../meta/types.js'
import type { AbortOptions } from '../../util/abort.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import { checkEntryName, notFound } from './helpers.js'

/** Looks `name` up in `parent` and counts one kernel lookup on the result. */
export async function lookup (core: VfsCore, _ctx: VfsContext, parent: number, name: string, options: AbortOptions): Promise<Attr> {
  let attr: Attr | undefined
  if (name === '.') attr = await core.meta.getattr(parent, options)
  else if (name === '..') attr = await core.meta.getattr(await core.meta.parentOf(parent, options), options)
  else {
    checkEntryName(name, parent)
    attr = await core.meta.lookup(parent, name, options)
  }
  if (attr == null) throw notFound(parent, name)
  core.inodes.remember(attr.ino)
  return core.overlay(attr)
}
