/**
 * A real VFS stack for tests: SQLite meta (':memory:'), the chunk worker pool, a fragment store
 * (memory, optionally with a small capacity) and place's local StripeIO. `openVfsStack` returns a
 * `close()`; `createVfsStack` registers it as the test's cleanup.
 */
import { randomBytes } from 'node:crypto'
import { createChunkPool } from '../../../src/chunk/index.js'
import { createMetaStore } from '../../../src/meta/index.js'
import type { MetaStore } from '../../../src/meta/types.js'
import { createLocalStripeIO } from '../../../src/place/local.js'
import type { StripeIO } from '../../../src/place/types.js'
import { MemoryFragmentStore } from '../../../src/store/index.js'
import { prefixLogger } from '../../../src/util/logger.js'
import { createVfs, type Vfs, type VfsInit } from '../../../src/vfs/index.js'
import { VfsPosixTarget } from '../../helpers/vfs-posix-target.js'
import { onCleanup, type Cleanup } from '../../helpers/tmp.js'

export interface VfsStackInit {
  /** Store capacity in bytes (default unlimited). */
  capacityBytes?: number
  vfs?: VfsInit
  /** Wraps the StripeIO (e.g. to count or fail calls). */
  wrapStripes?: (s: StripeIO) => StripeIO
}

export interface VfsStack {
  vfs: Vfs
  meta: MetaStore
  stripes: StripeIO
  store: MemoryFragmentStore
  target: VfsPosixTarget
  close: () => Promise<void>
}

/** Small stripes make multi-stripe cases cheap; the default size is exercised by the bench. */
export const TEST_STRIPE_BYTES = 1024 * 1024

export async function openVfsStack (init: VfsStackInit = {}): Promise<VfsStack> {
  const logger = prefixLogger('vfs-test')
  const closers: Array<() => Promise<void>> = []
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c().catch((err) => { console.error('stack close failed:', err) })
  }
  try {
    const meta = createMetaStore({ path: ':memory:', deviceId: 'device-test', logger })
    await meta.start()
    closers.push(async () => { await meta.stop() })
    const pool = createChunkPool({ salt: randomBytes(32), workers: 2, logger })
    await pool.start()
    closers.push(async () => { await pool.stop() })
    const store = new MemoryFragmentStore(init.capacityBytes != null ? { capacityBytes: init.capacityBytes } : {})
    await store.start()
    closers.push(async () => { await store.stop() })
    const local = createLocalStripeIO({ policy: { k: 1, n: 1 } }, { pool, store, deviceId: 'device-test', logger })
    const stripes = init.wrapStripes?.(local) ?? local
    const vfs = createVfs({ stripeSizeBytes: TEST_STRIPE_BYTES, ...init.vfs }, { meta, stripes, logger })
    await vfs.start()
    closers.push(async () => { await vfs.stop() })
    return { vfs, meta, stripes, store, target: new VfsPosixTarget(vfs), close }
  } catch (err) {
    await close()
    throw err
  }
}

export async function createVfsStack (t: Cleanup, init: VfsStackInit = {}): Promise<VfsStack> {
  const stack = await openVfsStack(init)
  onCleanup(t, stack.close)
  return stack
}
