/**
 * Reads /proc/self/mountinfo (never stat()s a possibly hung mountpoint) to tell whether a path is
 * a mount point, and of which file system type.
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'

function unescape (s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)))
}

/** True when `path` is a mount point (of `fstype`, e.g. "fuse.palm", when given). */
export async function isMountpoint (path: string, fstype?: string): Promise<boolean> {
  const target = resolve(path)
  const text = await readFile('/proc/self/mountinfo', 'utf8')
  for (const line of text.split('\n')) {
    const fields = line.split(' ')
    if (fields.length < 10) continue
    if (unescape(fields[4]) !== target) continue
    const sep = fields.indexOf('-')
    if (fstype == null || fields[sep + 1] === fstype) return true
  }
  return false
}
