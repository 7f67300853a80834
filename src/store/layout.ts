/**
 * `store.json` at the store root: the on-disk layout version and the settings fixed when the store
 * was created (the pack threshold decides where a fragment lives, so it cannot change later).
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidConfigError } from '../errors.js'
import type { FsStoreInit } from './fs-store.js'
import { MAX_RECORD_DATA_BYTES } from './pack-format.js'
import { LAYOUT_FILE, SHARD_CHARS, STORE_LAYOUT_VERSION } from './constants.js'
import { isNotFound } from './io-error.js'
import { fsyncDir } from './pack-store.js'

/** The contents of `store.json`. */
export interface StoreLayout {
  version: number
  /** Fragments smaller than this are in packs; the rest are files. */
  packThresholdBytes: number
  shardChars: number
  createdAt: string
}

/** Reads the layout, or writes one from `packThresholdBytes` for a new store. */
export async function loadLayout (root: string, packThresholdBytes: number): Promise<StoreLayout> {
  const path = join(root, LAYOUT_FILE)
  let text: string | undefined
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (!isNotFound(err)) throw err
  }
  if (text == null) {
    const layout: StoreLayout = { version: STORE_LAYOUT_VERSION, packThresholdBytes, shardChars: SHARD_CHARS, createdAt: new Date().toISOString() }
    const tmp = `${path}.${process.pid}.tmp`
    await writeFile(tmp, JSON.stringify(layout, null, 2) + '\n', { flag: 'w' })
    await rename(tmp, path)
    await fsyncDir(root)
    return layout
  }
  let layout: StoreLayout
  try {
    layout = JSON.parse(text) as StoreLayout
  } catch (err) {
    throw new InvalidConfigError(`the fragment store's ${path} is not valid JSON; restore it from a backup or move the store aside`, { cause: err, details: { path } })
  }
  if (layout.version !== STORE_LAYOUT_VERSION || layout.shardChars !== SHARD_CHARS || typeof layout.packThresholdBytes !== 'number') {
    throw new InvalidConfigError(
      `the fragment store at ${root} has layout version ${String(layout.version)}, this palm reads version ${STORE_LAYOUT_VERSION}; upgrade palm`,
      { details: { path, version: layout.version } })
  }
  return layout
}

/** Checks the store's settings (constructor, no I/O); all problems in one InvalidConfigError. */
export function checkInit (init: FsStoreInit): void {
  const problems: string[] = []
  if (typeof init.path !== 'string' || init.path === '') problems.push('path must name a directory')
  const threshold = init.packThresholdBytes
  if (threshold != null && !(Number.isInteger(threshold) && threshold >= 0 && threshold <= MAX_RECORD_DATA_BYTES)) {
    problems.push(`packThresholdBytes must be a whole number from 0 to ${MAX_RECORD_DATA_BYTES}, got ${threshold}`)
  }
  if (init.segmentBytes != null && !(Number.isInteger(init.segmentBytes) && init.segmentBytes >= 4096)) {
    problems.push(`segmentBytes must be a whole number ≥ 4096, got ${init.segmentBytes}`)
  }
  if (init.capacityBytes != null && !(Number.isFinite(init.capacityBytes) && init.capacityBytes >= 0)) {
    problems.push(`capacityBytes must be a number of bytes ≥ 0, got ${init.capacityBytes}`)
  }
  if (problems.length > 0) throw new InvalidConfigError(`fragment store settings: ${problems.join('; ')}`, { details: { path: init.path } })
}
