/**
 * Large fragments as one file each: written to a temp file in `tmp/` and renamed into its shard
 * directory (atomic: a reader sees the whole fragment or none). No fsync here: the store's
 * durability point is `sync()`, which fdatasyncs the file and its directory.
 */
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { isNotFound } from './io-error.js'

let tempCounter = 0

/** A temp file name in `tmpDir` no other writer (in this or another process) uses. */
export function tempPath (tmpDir: string, cidText: string): string {
  tempCounter = (tempCounter + 1) % Number.MAX_SAFE_INTEGER
  return join(tmpDir, `${cidText}.${process.pid}.${tempCounter}.tmp`)
}

/** Writes `bytes` to `finalPath` atomically through a temp file; the temp file is removed on failure. */
export async function writeFileAtomic (tmpDir: string, finalPath: string, cidText: string, bytes: Uint8Array): Promise<void> {
  const tmp = tempPath(tmpDir, cidText)
  try {
    await writeFile(tmp, bytes, { flag: 'wx' })
    await rename(tmp, finalPath)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
}

/** The file's bytes, or undefined if it does not exist. */
export async function readIfExists (path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path)
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
}

/** Moves a corrupt fragment file into `quarantineDir` (name: `<cid>.<ms>.bad`); returns the new path. */
export async function quarantineFile (path: string, quarantineDir: string, nowMs: number): Promise<string> {
  const target = join(quarantineDir, `${basename(path)}.${nowMs}.bad`)
  await mkdir(quarantineDir, { recursive: true })
  await rename(path, target)
  return target
}

/** Writes bytes of a corrupt pack record to the quarantine (the record itself is tombstoned). */
export async function quarantineBytes (quarantineDir: string, cidText: string, bytes: Uint8Array, nowMs: number): Promise<string> {
  const target = join(quarantineDir, `${cidText}.${nowMs}.bad`)
  await mkdir(quarantineDir, { recursive: true })
  await writeFile(target, bytes)
  return target
}

/** fdatasync of one file; a file deleted since it was written needs nothing. */
export async function datasyncFile (path: string): Promise<void> {
  let fh
  try {
    fh = await open(path, 'r')
  } catch (err) {
    if (isNotFound(err)) return
    throw err
  }
  try {
    await fh.datasync()
  } finally {
    await fh.close()
  }
}

/** Size and mtime of a file, or undefined if it does not exist. */
export async function statIfExists (path: string): Promise<{ size: number, mtimeMs: number } | undefined> {
  try {
    return await stat(path)
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
}
