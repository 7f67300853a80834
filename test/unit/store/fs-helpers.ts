/**
 * Helpers for file-store tests: stores in temp dirs, corruption behind the store's back, and a
 * tiny tmpfs to fill up (root only; tests skip without it). Cleanup is registered at creation.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, open, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createFsStore, type FsFragmentStore, type FsStoreInit } from '../../../src/store/index.js'
import type { CID } from '../../../src/util/cid.js'
import { createTempDir, onCleanup, type Cleanup } from '../../helpers/tmp.js'

const run = promisify(execFile)

/** A started file store in a new temp dir (or `init.path`); stopped and removed after the test. */
export async function createStore (t: Cleanup, init: Partial<FsStoreInit> = {}): Promise<FsFragmentStore> {
  const path = init.path ?? join(await createTempDir(t, 'palm-store-'), 'store')
  const store = createFsStore({ ...init, path })
  onCleanup(t, async () => { await store.stop() })
  await store.start()
  return store
}

/** For the compliance suite (no test context): a started store whose teardown removes its dir. */
export async function setupStore (init: Partial<FsStoreInit>): Promise<FsFragmentStore> {
  const dir = await mkdtemp(join(tmpdir(), 'palm-store-'))
  const store = createFsStore({ ...init, path: join(dir, 'store') })
  try {
    await store.start()
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  return store
}

export async function teardownStore (store: FsFragmentStore): Promise<void> {
  try {
    await store.stop()
  } finally {
    await rm(join(store.root, '..'), { recursive: true, force: true })
  }
}

/** Stops `store` and starts a new one on the same directory with the same settings. */
export async function reopenStore (store: FsFragmentStore, init: Partial<FsStoreInit> = {}): Promise<FsFragmentStore> {
  await store.stop()
  const next = createFsStore({ ...init, path: store.root })
  await next.start()
  return next
}

/** Overwrites the stored bytes of `cid` on disk; shorter bytes truncate the file (or the pack segment there). */
export async function corruptOnDisk (store: FsFragmentStore, cid: CID, bytes: Uint8Array): Promise<void> {
  const where = await store.locate(cid)
  if (where == null) throw new Error(`fragment ${cid.toString()} is not stored`)
  if (!where.packed) {
    await writeFile(where.path, bytes)
    return
  }
  if (bytes.byteLength < where.length) await truncate(where.path, where.offset + bytes.byteLength)
  const fh = await open(where.path, 'r+')
  try {
    await fh.write(bytes, 0, bytes.byteLength, where.offset)
  } finally {
    await fh.close()
  }
}

/**
 * A tmpfs of `sizeBytes` mounted on a new temp dir, unmounted after the test; undefined when this
 * process may not mount (not root, no tmpfs), so that the caller can skip.
 */
export async function createSmallFs (t: Cleanup, sizeBytes: number): Promise<string | undefined> {
  const dir = await createTempDir(t, 'palm-smallfs-')
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir])
  } catch {
    return undefined
  }
  onCleanup(t, async () => { await run('umount', ['-l', dir]) })
  return dir
}
