import { statfs } from 'node:fs/promises'

/** Free bytes an unprivileged writer can use on the file system holding `path` (statfs). */
export async function diskFreeBytes (path: string): Promise<number> {
  const s = await statfs(path)
  return Number(s.bavail) * Number(s.bsize)
}
