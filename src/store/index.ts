/**
 * @packageDocumentation
 *
 * The store layer: this device's fragments, content-addressed. It imports nothing but util (and
 * errors); `place` uses it for local fragments and `net` (through types.ts) to serve other devices.
 *
 * Invariants every implementation keeps (test/compliance/fragment-store-tests.ts checks them):
 * - put verifies the bytes against the CID before storing and is idempotent; concurrent puts of one
 *   CID store it once. It returns when the data is written (kernel holds it); `sync` is the
 *   power-loss point, group-committed.
 * - get verifies on every read and never returns wrong bytes: a corrupt copy is quarantined and
 *   reported as IntegrityError naming the CID and where it was.
 * - capacity: QuotaExceededError before the configured capacity is passed; a full disk gives
 *   NoSpaceError. usage() is synchronous.
 * - nothing is deleted except by `delete`/`deleteIfOlder` (GC, gc.ts) with explicit inputs.
 *
 * The file store keeps large fragments as one file each (`fragments/<2 chars>/<cid>`) and small
 * ones in append-only pack segments (`packs/`): see docs/store.md for the measurements.
 */
import { defaultLogger } from '../util/logger.js'
import { FsFragmentStore, type FsStoreComponents, type FsStoreInit } from './fs-store.js'

export type { FragmentStore, StoreUsage, FragmentEntry, FragmentAges } from './types.js'
export { FsFragmentStore, type FsStoreInit, type FsStoreComponents } from './fs-store.js'
export { MemoryFragmentStore, type MemoryStoreInit } from './memory-store.js'
export type { CompactOptions, CompactResult } from './pack-compact.js'
export { scrubStore, type ScrubOptions, type ScrubReport } from './scrub.js'
export { collectGarbage, type GcInit, type GcReport } from './gc.js'

/** Creates the on-disk fragment store rooted at `init.path` (call `start()` before use). */
export function createFsStore (init: FsStoreInit, components: FsStoreComponents = {}): FsFragmentStore {
  const logger = components.logger ?? defaultLogger()
  return new FsFragmentStore(init, logger.forComponent('palm:store'))
}
