/**
 * Reads /proc/self/mountinfo (never stat()s a possibly hung mountpoint) to tell whether a path is
 * a mount point, and of which file system type.
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'

export interface MountLine {
  /** Mount id (unique while mounted; a new mount at the same place gets a new one). */
  id: number
  mountpoint: string
  fstype: string
  /** The mount's source (for FUSE, its fsname; PALM's name the home, see mount-owner.ts). */
  source: string
}

function unescape (s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)))
}

/** The mounts at `path` (innermost last), optionally only of `fstype` (e.g. "fuse.palm"). */
export async function mountsAt (path: string, fstype?: string): Promise<MountLine[]> {
  const target = resolve(path)
  const text = await readFile('/proc/self/mountinfo', 'utf8')
  const out: MountLine[] = []
  for (const line of text.split('\n')) {
    const fields = line.split(' ')
    if (fields.length < 10) continue
    const mountpoint = unescape(fields[4])
    if (mountpoint !== target) continue
    const sep = fields.indexOf('-', 6)
    const type = fields[sep + 1]
    if (fstype == null || type === fstype) out.push({ id: Number(fields[0]), mountpoint, fstype: type, source: unescape(fields[sep + 2] ?? '') })
  }
  return out
}

/** True when `path` is a mount point (of `fstype`, e.g. "fuse.palm", when given). */
export async function isMountpoint (path: string, fstype?: string): Promise<boolean> {
  return (await mountsAt(path, fstype)).length > 0
}
