import type { Attr } from '../../meta/types.js'
import type { AbortOptions } from '../../util/abort.js'
import type { VfsCore } from '../core.js'
import { checkTarget } from '../names.js'
import type { VfsContext } from '../types.js'
import { makeNode } from './helpers.js'

/** Creates a symbolic link `name` → `target` (mode 0777). */
export async function symlink (core: VfsCore, ctx: VfsContext, target: string, parent: number, name: string, options: AbortOptions): Promise<Attr> {
  checkTarget(target, `"${name}"`)
  return await makeNode(core, ctx, parent, name, { type: 'symlink', mode: 0o777, target }, options)
}
