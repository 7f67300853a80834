/**
 * What `palm mount` refuses about the folder it mounts on, before it starts anything: a regular
 * file (or anything but a folder), and a folder with files in it unless `--allow-non-empty` (as
 * rclone: mounting over files hides them without a word otherwise). Never touches a mount: callers
 * run it only after a stale mount there was recovered.
 */
import { lstat, opendir } from 'node:fs/promises'
import { BusyError, NotDirectoryError } from '../errors.js'

/** Throws a one-line error naming the mountpoint and what to do; resolves when it may be used (or made). */
export async function checkMountpoint (mountpoint: string, options: { allowNonEmpty: boolean }): Promise<void> {
  let st
  try {
    st = await lstat(mountpoint)
  } catch (err: any) {
    if (err.code === 'ENOENT') return
    if (err.code === 'ENOTDIR') throw new NotDirectoryError(`cannot mount at ${mountpoint}: a part of that path is a file, not a folder; choose a folder`, { cause: err, details: { path: mountpoint } })
    throw err
  }
  if (!st.isDirectory()) {
    const what = st.isFile() ? 'a file' : st.isSymbolicLink() ? 'a symbolic link' : 'not a folder'
    throw new NotDirectoryError(`cannot mount at ${mountpoint}: it is ${what}; give a folder (it is made when missing)`, { details: { path: mountpoint } })
  }
  if (options.allowNonEmpty) return
  const dir = await opendir(mountpoint)
  let first: string | undefined
  try {
    first = (await dir.read())?.name
  } finally {
    await dir.close().catch(() => {})
  }
  if (first != null) {
    throw new BusyError(`cannot mount at ${mountpoint}: the folder is not empty (it holds ${first}) and the mount would hide its files; empty it, choose another folder, or add --allow-non-empty`, { details: { path: mountpoint } })
  }
}
