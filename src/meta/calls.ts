/**
 * The public mutating calls as ops: each function checks its arguments at once (clear errors before
 * queueing), and returns the op builder the writer runs against the current view, with the inodes
 * and entries to load into the cache beforehand.
 */
import { InvalidArgumentError, NotDirectoryError, NotFoundError, ValueTooBigError } from '../errors.js'
import { XATTR_VALUE_MAX_BYTES } from './constants.js'
import { checkName, checkTarget, checkXattrName } from './names.js'
import { checkTime, type InodeRec } from './records.js'
import type { ContentUpdate, NodeInit, RenameFlags, SetAttr, XattrFlags } from './types.js'
import type { ApplyView } from './view.js'
import { checkHoldersOp, withHolders } from './apply-holders.js'
import { copyStripe } from './apply-content.js'
import { baseOf, copySlice } from './slices.js'
import type { Build } from './writer.js'

export interface Call {
  build: Build
  /** Inodes the op reads. */
  inodes: number[]
  /** Entries (parent, name) the op reads; the inodes they name are loaded too. */
  entries: Array<[number, string]>
}

/** The inode `ino` as the writer sees it; NotFoundError if absent. */
function inodeIn (v: ApplyView, ino: number): InodeRec {
  const rec = v.inode(ino)
  if (rec == null) throw new NotFoundError(`inode ${ino} does not exist (it was removed)`, { details: { ino } })
  return rec
}

function dirIn (v: ApplyView, ino: number): InodeRec {
  const rec = inodeIn(v, ino)
  if (rec.type !== 'dir') throw new NotDirectoryError(`inode ${ino} is not a directory`, { details: { ino } })
  return rec
}

/** The directory `parent` and the inode named `name` in it. */
function entryIn (v: ApplyView, parent: number, name: string): [InodeRec, InodeRec] {
  const p = dirIn(v, parent)
  const d = v.dentry(parent, name)
  const rec = d == null ? undefined : v.inode(d.ino)
  if (rec == null) throw new NotFoundError(`"${name}" in directory inode ${parent} does not exist`, { details: { parent, name } })
  return [p, rec]
}

export function createCall (parent: number, name: string, init: NodeInit): Call {
  checkName(name)
  if (init.type === 'symlink') checkTarget(init.target)
  if (init.timeNs !== undefined) checkTime(init.timeNs, 'creation time')
  return {
    build: v => ({
      body: {
        kind: 'create', parent: inodeIn(v, parent).node, name, type: init.type, mode: init.mode & 0o7777, uid: init.uid, gid: init.gid,
        rdev: init.rdev ?? 0, ...(init.type === 'symlink' ? { target: init.target } : {})
      },
      time: init.timeNs
    }),
    inodes: [parent],
    entries: [[parent, name]]
  }
}

export function linkCall (ino: number, parent: number, name: string): Call {
  checkName(name)
  return {
    build: v => ({ body: { kind: 'link', node: inodeIn(v, ino).node, parent: inodeIn(v, parent).node, name } }),
    inodes: [ino, parent],
    entries: [[parent, name]]
  }
}

/** unlink or rmdir: both name the node they expect at the name. */
export function removeCall (kind: 'unlink' | 'rmdir', parent: number, name: string): Call {
  checkName(name)
  return {
    build: v => {
      const [p, t] = entryIn(v, parent, name)
      if (kind === 'unlink' && t.type === 'file') return { body: { kind, parent: p.node, name, node: t.node, seen: t.ver ?? '', ...(t.nlink > 1 ? { links: t.nlink } : {}) } }
      return { body: { kind, parent: p.node, name, node: t.node } }
    },
    inodes: [parent],
    entries: [[parent, name]]
  }
}

export function renameCall (parent: number, name: string, newParent: number, newName: string, flags: RenameFlags): Call {
  checkName(name)
  checkName(newName)
  if (flags.exchange === true && flags.noReplace === true) throw new InvalidArgumentError('RENAME_EXCHANGE and RENAME_NOREPLACE cannot be combined')
  const mode = flags.exchange === true ? 'exchange' : flags.noReplace === true ? 'noreplace' : 'replace'
  return {
    build: v => {
      const [p1, s] = entryIn(v, parent, name)
      const p2 = dirIn(v, newParent)
      // The node the new name holds now: another device applying this op replaces only that one.
      const d2 = v.dentry(p2.ino, newName)
      const target = d2 == null || d2.ino === s.ino ? undefined : v.inode(d2.ino)
      // '' = nothing was there (an op without the field comes from a PALM before this rule).
      // A file replaced by a plain rename: the content version it had, so a concurrent edit is not replaced unseen.
      const seen = mode === 'replace' && target?.type === 'file' ? { replacesVer: target.ver ?? '', ...(target.nlink > 1 ? { replacesLinks: target.nlink } : {}) } : {}
      return { body: { kind: 'rename', parent: p1.node, name, newParent: p2.node, newName, node: s.node, mode, replaces: target?.node ?? '', ...seen } }
    },
    inodes: [parent, newParent],
    entries: [[parent, name], [newParent, newName]]
  }
}

export function setattrCall (ino: number, set: SetAttr): Call {
  const fields = {
    ...(set.mode !== undefined ? { mode: set.mode & 0o7777 } : {}),
    ...(set.uid !== undefined ? { uid: set.uid } : {}),
    ...(set.gid !== undefined ? { gid: set.gid } : {}),
    ...(set.size !== undefined ? { size: set.size } : {}),
    ...(set.atimeNs !== undefined ? { atime: set.atimeNs } : {}),
    ...(set.mtimeNs !== undefined ? { mtime: set.mtimeNs } : {}),
    ...(set.ctimeNs !== undefined ? { ctime: set.ctimeNs } : {})
  }
  return { build: v => ({ body: { kind: 'setattr', node: inodeIn(v, ino).node, ...fields } }), inodes: [ino], entries: [] }
}

export function setContentCall (ino: number, update: ContentUpdate): Call {
  // Copied now: the caller may reuse its arrays before the writer gets to this call.
  const stripes = update.stripes.map(s => copyStripe(baseOf(s)))
  const holes = [...(update.holes ?? [])]
  const mtime = update.mtimeNs !== undefined ? { mtime: update.mtimeNs } : {}
  const addSlices = update.addSlices != null && update.addSlices.length > 0
    ? { addSlices: update.addSlices.map(a => ({ index: a.index, over: a.over, seen: a.seen, slices: a.slices.map(copySlice) })) }
    : {}
  return {
    build: v => {
      const rec = inodeIn(v, ino)
      const name = v.nameOf(ino)
      const at = name == null ? {} : { at: [inodeIn(v, name.parent).node, name.name] as [string, string] }
      return { body: { kind: 'setContent', node: rec.node, size: update.size, stripeSize: update.stripeSize, stripes, holes, ...mtime, base: rec.ver ?? '', ...at, ...addSlices } }
    },
    inodes: [ino],
    entries: []
  }
}

export function setxattrCall (ino: number, name: string, value: Uint8Array, flags: XattrFlags): Call {
  checkXattrName(name)
  if (value.byteLength > XATTR_VALUE_MAX_BYTES) throw new ValueTooBigError(`extended attribute ${name} of inode ${ino}: value of ${value.byteLength} bytes exceeds ${XATTR_VALUE_MAX_BYTES}`)
  if (flags.create === true && flags.replace === true) throw new InvalidArgumentError('XATTR_CREATE and XATTR_REPLACE cannot be combined')
  const mode = flags.create === true ? 'create' : flags.replace === true ? 'replace' : 'any'
  // Copied now: a FUSE binding reuses its buffers.
  const copy = value.slice()
  return { build: v => ({ body: { kind: 'setxattr', node: inodeIn(v, ino).node, name, value: copy, mode } }), inodes: [ino], entries: [] }
}

export function removexattrCall (ino: number, name: string): Call {
  checkXattrName(name)
  return { build: v => ({ body: { kind: 'removexattr', node: inodeIn(v, ino).node, name } }), inodes: [ino], entries: [] }
}

/** Admits a device (its raw Ed25519 key); nothing to log when it is admitted already. */
export function admitCall (device: string, publicKey: Uint8Array): Call {
  const key = Buffer.from(publicKey).toString('base64')
  return {
    build: v => v.admitted(device) != null || v.removed(device) ? undefined : { body: { kind: 'admit', device, key } },
    inodes: [],
    entries: []
  }
}

/** Removes a device from the swarm; nothing to log when it is removed already. */
export function removeDeviceCall (device: string): Call {
  return {
    build: v => v.removed(device) ? undefined : { body: { kind: 'removeDevice', device } },
    inodes: [],
    entries: []
  }
}

/** Declares this device's failure domain; nothing to log when the journal has it already. */
export function setDomainCall (domain: string, current: string): Call {
  return { build: () => current === domain ? undefined : { body: { kind: 'setDomain', domain } }, inodes: [], entries: [] }
}

/** Records a re-keying (always logged: each rotation is its own event). */
export function keyEpochCall (epoch: number, keyId: string): Call {
  return { build: () => ({ body: { kind: 'keyEpoch', epoch, keyId } }), inodes: [], entries: [] }
}

/**
 * New holders of some fragments of the stripe `index` of `ino` (repair). Nothing is logged when the
 * stripe is no longer `stripeId` (rewritten meanwhile), `expect` is given and the stripe's holders
 * are no longer those (another device's record landed since the caller looked), or no entry changes
 * anything. `recorded` is told whether the journal says what was asked: false in the first two
 * cases, true in the last (it says so already).
 */
export function holdersCall (ino: number, index: number, stripeId: string, set: Array<[number, string, string[]]>, opts: { expect?: string[][], recorded?: (yes: boolean) => void } = {}): Call {
  const copy = set.map(([i, cid, devices]) => [i, cid, [...devices]] as [number, string, string[]])
  checkHoldersOp({ node: 'x', index, stripe: stripeId, set: copy })
  const expect = opts.expect != null ? JSON.stringify(opts.expect) : undefined
  return {
    build: v => {
      opts.recorded?.(false)
      const rec = v.inode(ino)
      if (rec == null || rec.type !== 'file') return undefined
      const cur = v.stripe(ino, index)
      // The base stripe, or one of its slices.
      const part = cur == null ? undefined : cur.id === stripeId ? cur : cur.slices?.find(x => x.id === stripeId)
      if (part == null || (expect != null && JSON.stringify(part.holders) !== expect)) return undefined
      // Already so (a bad copy rebuilt on the device that held it): nothing to log, but done.
      opts.recorded?.(true)
      if (withHolders(part, copy) == null) return undefined
      return { body: { kind: 'holders', node: rec.node, index, stripe: stripeId, set: copy } }
    },
    inodes: [ino],
    entries: []
  }
}

export function releaseCall (ino: number): Call {
  return {
    build: v => {
      const rec = v.inode(ino)
      // Gone already, or it has names: nothing to purge (release is idempotent).
      return rec == null || rec.nlink > 0 ? undefined : { body: { kind: 'release', node: rec.node } }
    },
    inodes: [ino],
    entries: []
  }
}
