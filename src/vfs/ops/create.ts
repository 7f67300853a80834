import { ExistsError } from '../../errors.js'
import type { AbortOptions } from '../../util/abort.js'
import { O_EXCL, XATTR_POLICY } from '../constants.js'
import type { VfsCore } from '../core.js'
import { formatPolicy } from '../policy.js'
import type { VfsContext, VfsCreateReply } from '../types.js'
import { makeNodeEarly } from './helpers.js'
import { cacheStamp, open } from './open.js'
import { lookup } from './lookup.js'

const encoder = new TextEncoder()

/**
 * Creates and opens a regular file. It inherits the nearest ancestor directory's
 * `user.palm.policy` (recorded on the file), else uses the swarm default. Without O_EXCL an
 * existing file is opened instead (O_TRUNC honoured). The reply does not wait for the journal
 * commit of the create; the file's first close or fsync does (docs/durability.md).
 */
export async function create (core: VfsCore, ctx: VfsContext, parent: number, name: string, mode: number, flags: number, options: AbortOptions): Promise<VfsCreateReply> {
  let attr
  let committed: () => Promise<void>
  try {
    // Answered before the journal commit: the file's close/fsync waits for it (OpenFile.commitLocked).
    ({ attr, committed } = await makeNodeEarly(core, ctx, parent, name, { type: 'file', mode }, options))
  } catch (err) {
    if (!(err instanceof ExistsError) || (flags & O_EXCL) !== 0) throw err
    attr = await lookup(core, ctx, parent, name, options)
    const reply = await open(core, ctx, attr.ino, flags, options)
    return { ...reply, attr: await core.getattr(attr.ino, options) }
  }
  const inherited = await core.policies.inherited(parent, options)
  const fallback = core.policies.fallback
  const policy = inherited ?? fallback
  if (inherited != null && (inherited.k !== fallback.k || inherited.n !== fallback.n)) {
    await core.meta.setxattr(attr.ino, XATTR_POLICY, encoder.encode(formatPolicy(inherited)), {}, options)
  }
  // A new file has no stripes: its fsyncs flush only what is stored from now on.
  core.unsynced.track(attr.ino)
  const record = core.inodes.opened(attr.ino)
  const h = core.handles.open(attr.ino, 'file', flags)
  // A new file: its open-file state is known without asking meta.
  record.file ??= await core.newOpenFile(attr.ino, options, { size: 0, policy })
  record.file.awaitCreate(committed)
  record.cacheStamp = cacheStamp(attr)
  return { fh: h.fh, keepCache: false, attr }
}
