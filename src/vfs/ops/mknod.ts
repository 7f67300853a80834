import { InvalidArgumentError } from '../../errors.js'
import type { Attr, FileType } from '../../meta/types.js'
import type { AbortOptions } from '../../util/abort.js'
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK } from '../constants.js'
import type { VfsCore } from '../core.js'
import type { VfsContext } from '../types.js'
import { makeNode } from './helpers.js'

const TYPES = new Map<number, FileType>([
  [0, 'file'], [S_IFREG, 'file'], [S_IFIFO, 'fifo'], [S_IFSOCK, 'socket'], [S_IFCHR, 'char'], [S_IFBLK, 'block']
])

/** Creates a regular file, FIFO, socket or device node (type from `mode`'s S_IFMT bits). */
export async function mknod (core: VfsCore, ctx: VfsContext, parent: number, name: string, mode: number, rdev: number, options: AbortOptions): Promise<Attr> {
  const type = TYPES.get(mode & S_IFMT)
  if (type == null) {
    const hint = (mode & S_IFMT) === S_IFDIR ? '; use mkdir for directories' : ''
    throw new InvalidArgumentError(`mknod "${name}": file type 0o${(mode & S_IFMT).toString(8)} is not supported${hint}`)
  }
  const needsRdev = type === 'char' || type === 'block'
  return await makeNode(core, ctx, parent, name, { type, mode, ...(needsRdev ? { rdev } : {}) }, options)
}
