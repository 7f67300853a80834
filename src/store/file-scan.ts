/**
 * Start-up scan of the fragment files: counts them and their bytes for the in-memory usage
 * figures (one readdir per shard directory, one stat per file, IO_CONCURRENCY in flight).
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { throwIfAborted, type AbortOptions } from '../util/abort.js'
import { IO_CONCURRENCY } from './constants.js'
import { isNotFound } from './io-error.js'
import { forEachLimit } from './parallel.js'
import { cidOfFileName } from './sharding.js'

/** A fragment file found by a scan. */
export interface FoundFile {
  cid: CID
  path: string
}

/** Every fragment file under `fragmentsDir` (names that are not CIDs of their shard are skipped). */
export async function * listFragmentFiles (fragmentsDir: string, options: AbortOptions = {}): AsyncGenerator<FoundFile> {
  let shards: string[]
  try {
    shards = await readdir(fragmentsDir)
  } catch (err) {
    if (isNotFound(err)) return
    throw err
  }
  for (const shard of shards.sort()) {
    throwIfAborted(options.signal, 'fragment listing')
    let names: string[]
    try {
      names = await readdir(join(fragmentsDir, shard))
    } catch (err) {
      if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') continue
      throw err
    }
    for (const name of names) {
      const cid = cidOfFileName(name, shard)
      if (cid != null) yield { cid, path: join(fragmentsDir, shard, name) }
    }
  }
}

/** Calls `found(cid, sizeBytes, mtimeMs)` for every fragment file. */
export async function scanFragmentFiles (fragmentsDir: string, found: (cid: CID, sizeBytes: number, mtimeMs: number) => void, options: AbortOptions = {}): Promise<void> {
  await forEachLimit(listFragmentFiles(fragmentsDir, options), IO_CONCURRENCY, async f => {
    try {
      const s = await stat(f.path)
      found(f.cid, s.size, s.mtimeMs)
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
  })
}
