import type { Attr } from '../../meta/types.js'
import type { AbortOptions } from '../../util/abort.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import { makeNode } from './helpers.js'

/** Creates a directory. */
export async function mkdir (core: VfsCore, ctx: VfsContext, parent: number, name: string, mode: number, options: AbortOptions): Promise<Attr> {
  return await makeNode(core, ctx, parent, name, { type: 'dir', mode }, options)
}
