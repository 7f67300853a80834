/**
 * Which home a mount belongs to. A daemon mounts with the source (fsname) `palm:<home>`: the home's
 * real path, bytes outside [A-Za-z0-9._@+/-] written %XX (libfuse splits options on commas, the
 * kernel escapes spaces), or `palm:#<hash>` for a home path too long for that. So a mount can be
 * attributed from /proc/self/mountinfo alone, even when its daemon died. Mounts made before this
 * (source `palm`) belong to a home only when that home's run/mount.json names their mountpoint.
 * `palm unmount` and `palm mount` act only on a mount of their own home, never on another's.
 */
import { createHash } from 'node:crypto'
import { realpath } from 'node:fs/promises'
import { resolve } from 'node:path'
import { mountsAt, type MountLine } from './mountinfo.js'

const PREFIX = 'palm:'
const SAFE = /[A-Za-z0-9._@+/-]/
/** Longest source we write; a longer home is named by a hash of its path. */
const MAX_SOURCE_CHARS = 1024

/** The home's path with symlinks resolved (as given when it does not exist). */
export async function realHome (home: string): Promise<string> {
  return await realpath(home).catch(() => resolve(home))
}

function encodePath (path: string): string {
  let out = ''
  for (const ch of path) {
    if (SAFE.test(ch)) out += ch
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** The mount source (fsname) of `home`'s mount; pure, for the home's real path. */
export function mountSourceFor (realHomePath: string): string {
  const encoded = PREFIX + encodePath(realHomePath)
  if (encoded.length <= MAX_SOURCE_CHARS) return encoded
  return `${PREFIX}#${createHash('sha256').update(realHomePath).digest('hex').slice(0, 32)}`
}

/** The mount source (fsname) a daemon of `home` mounts with. */
export async function mountSource (home: string): Promise<string> {
  return mountSourceFor(await realHome(home))
}

/** The home a PALM mount source names (undefined for the old plain `palm`, a hashed name, or another file system). */
export function homeOfSource (source: string): string | undefined {
  if (!source.startsWith(`${PREFIX}/`)) return undefined
  try {
    return decodeURIComponent(source.slice(PREFIX.length))
  } catch {
    return source.slice(PREFIX.length)
  }
}

export type MountOwner =
  /** Nothing (FUSE) is mounted there. */
  | { kind: 'none' }
  /** The mount is this home's. */
  | { kind: 'own', mount: MountLine }
  /** The mount is another home's (`home` when its source names it) or not PALM's. */
  | { kind: 'other', mount: MountLine, home?: string }

/**
 * Whose is the topmost mount at `mountpoint`: this home's when its source is this home's, or when
 * it is an old-style `palm` mount and `recordedMountpoint` (the home's run/mount.json) names it.
 */
export async function mountOwner (home: string, mountpoint: string, recordedMountpoint?: string): Promise<MountOwner> {
  const target = resolve(mountpoint)
  const mounts = await mountsAt(target)
  const mount = mounts[mounts.length - 1]
  if (mount == null) return { kind: 'none' }
  if (mount.source === await mountSource(home)) return { kind: 'own', mount }
  const legacy = mount.fstype === 'fuse.palm' && mount.source === 'palm'
  if (legacy && recordedMountpoint != null && resolve(recordedMountpoint) === target) return { kind: 'own', mount }
  return { kind: 'other', mount, home: homeOfSource(mount.source) }
}

/** One line saying whose the mount is and how to unmount it, for messages. */
export function describeOther (owner: Extract<MountOwner, { kind: 'other' }>): string {
  const m = owner.mount
  if (owner.home != null) return `${m.mountpoint} is the mount of another PALM home (${owner.home}); \`palm unmount --home ${owner.home}\` unmounts it`
  if (m.fstype === 'fuse.palm') return `${m.mountpoint} is a PALM mount of another home (source ${m.source}); unmount it with \`palm unmount --home THAT_HOME\` or \`fusermount3 -u ${m.mountpoint}\``
  return `${m.mountpoint} is a ${m.fstype} mount (${m.source}), not PALM's`
}
