import { FileTooBigError, InvalidArgumentError, IsDirectoryError } from '../../errors.js'
import type { Attr, SetAttr } from '../../meta/types.js'
import type { AbortOptions } from '../../util/abort.js'
import { nowNs } from '../clock.js'
import type { VfsCore } from '../core.js'
import type { VfsContext, VfsSetattr, VfsTimeSet } from '../types.js'
import { cacheStamp } from './open.js'

/**
 * chmod, chown, truncate/ftruncate and utimens. A size change goes through the open-file state
 * (or a transient one) and is committed at once: the cut last stripe is rewritten, stripes past
 * the end are dropped, extending leaves a hole. Explicit times win over the dirty mtime of an
 * open file (its data is committed first).
 */
export async function setattr (core: VfsCore, _ctx: VfsContext, ino: number, set: VfsSetattr, _fh: number | undefined, options: AbortOptions): Promise<Attr> {
  await core.checkWritableIno(ino, 'changing')
  let attr: Attr | undefined
  if (set.size !== undefined) {
    const size = set.size
    attr = await core.locks.with(ino, async () => await truncateLocked(core, ino, size, options), options.signal)
  }
  const change: SetAttr = {}
  if (set.mode !== undefined) change.mode = set.mode & 0o7777
  if (set.uid !== undefined) change.uid = set.uid
  if (set.gid !== undefined) change.gid = set.gid
  if (set.atime !== undefined) change.atimeNs = timeOf(set.atime)
  if (set.mtime !== undefined) change.mtimeNs = timeOf(set.mtime)
  if (set.ctimeNs !== undefined) change.ctimeNs = set.ctimeNs
  if (Object.keys(change).length === 0) return attr ?? await core.getattr(ino, options)
  return await core.locks.with(ino, async () => {
    const record = core.inodes.get(ino)
    if (change.mtimeNs !== undefined && record?.file?.changed === true) await record.file.commitLocked(options)
    try {
      attr = await core.meta.setattr(ino, change, options)
    } catch (err) {
      throw await core.wrap(err, ino, 'changing the attributes of')
    }
    if (record != null && change.mtimeNs !== undefined && record.cacheStamp != null) record.cacheStamp = cacheStamp(attr)
    return core.overlay(attr)
  }, options.signal)
}

function timeOf (t: VfsTimeSet): bigint {
  return t === 'now' ? nowNs() : t
}

/** Truncates or extends `ino` to `size` bytes and commits (call with the inode lock held). */
export async function truncateLocked (core: VfsCore, ino: number, size: number, options: AbortOptions): Promise<Attr> {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new InvalidArgumentError(`cannot set the size of ${await core.pathOf(ino)} to ${size} bytes`)
  }
  if (size > core.settings.maxFileSizeBytes) {
    throw new FileTooBigError(`${await core.pathOf(ino)} cannot grow to ${size} bytes; the largest file is ${core.settings.maxFileSizeBytes} bytes`)
  }
  const record = core.inodes.get(ino)
  const file = record?.file ?? await core.newOpenFile(ino, options)
  const before = await core.meta.getattr(ino, options)
  if (before.type === 'dir') throw new IsDirectoryError(`${await core.pathOf(ino)} is a directory; it has no size to change`)
  if (before.type !== 'file') throw new InvalidArgumentError(`${await core.pathOf(ino)} is not a regular file; only files can be truncated`)
  if (record?.file == null) core.transient.add(file)
  try {
    await file.truncateLocked(size, options)
  } finally {
    core.transient.delete(file)
  }
  const attr = core.overlay(await core.meta.getattr(ino, options))
  if (record?.cacheStamp != null) record.cacheStamp = cacheStamp(attr)
  return attr
}
