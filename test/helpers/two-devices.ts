/**
 * Two devices' worth of real parts in one process, for change-feed tests: device A and device B each
 * have a SQLite journal file and a VFS; both VFSs store stripes through ONE local StripeIO over one
 * file fragment store (a directory), so what A writes B can read by its manifest. A signs its ops;
 * B trusts A's key. `ship()` exports A's ops that B lacks and applies them on B with `applyRemote`, the
 * path replication uses. Nothing is mocked: only the network between the two is left out.
 */
import { generateKeyPairSync, randomBytes, sign as edSign } from 'node:crypto'
import { join } from 'node:path'
import { createChunkPool } from '../../src/chunk/index.js'
import { createMetaStore } from '../../src/meta/index.js'
import type { MetaStore, SignedOp } from '../../src/meta/types.js'
import { createLocalStripeIO } from '../../src/place/local.js'
import type { StripeIO } from '../../src/place/types.js'
import { createFsStore } from '../../src/store/index.js'
import { prefixLogger } from '../../src/util/logger.js'
import { createVfs, type Vfs, type VfsInit } from '../../src/vfs/index.js'
import { VfsPosixTarget } from './vfs-posix-target.js'

export interface Device {
  meta: MetaStore
  vfs: Vfs
  /** Path-level calls on the VFS, resolving names by lookups as the kernel would. */
  target: VfsPosixTarget
}

export interface TwoDevices {
  a: Device
  b: Device
  stripes: StripeIO
  /** Applies on B every op of A that B lacks (in A's order); resolves with how many. */
  ship: () => Promise<number>
  close: () => Promise<void>
}

export interface TwoDevicesInit {
  /** Directory for the two journals and the shared fragment store (must exist). */
  dir: string
  vfs?: VfsInit
  /** Start B's VFS (default true; a mount test starts it by mounting). */
  startB?: boolean
}

function signer (): { sign: (b: Uint8Array) => Uint8Array, publicKey: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url')
  return { sign: (b) => new Uint8Array(edSign(null, b, privateKey)), publicKey: new Uint8Array(raw) }
}

export async function openTwoDevices (init: TwoDevicesInit): Promise<TwoDevices> {
  const closers: Array<() => Promise<void>> = []
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c().catch((err) => { console.error('two-devices close failed:', err) })
  }
  try {
    const logger = prefixLogger('two-devices')
    const pool = createChunkPool({ salt: randomBytes(32), workers: 1, logger })
    await pool.start()
    closers.push(async () => { await pool.stop() })
    const store = createFsStore({ path: join(init.dir, 'fragments'), capacityBytes: 1 << 30 }, { logger })
    await store.start()
    closers.push(async () => { await store.stop() })
    const stripes = createLocalStripeIO({ policy: { k: 1, n: 1 } }, { pool, store, deviceId: 'dev-a', logger })

    const keyA = signer()
    const metaA = createMetaStore({ path: join(init.dir, 'a.db'), deviceId: 'dev-a', ...keyA, logger: prefixLogger('dev-a') })
    await metaA.start()
    closers.push(async () => { await metaA.stop() })
    const metaB = createMetaStore({ path: join(init.dir, 'b.db'), deviceId: 'dev-b', ...signer(), logger: prefixLogger('dev-b') })
    await metaB.start()
    closers.push(async () => { await metaB.stop() })
    await metaB.trustAuthor('dev-a', keyA.publicKey)

    const vfsInit: VfsInit = { stripeSizeBytes: 1 << 20, ...init.vfs }
    const vfsA = createVfs(vfsInit, { meta: metaA, stripes, logger: prefixLogger('dev-a') })
    await vfsA.start()
    closers.push(async () => { await vfsA.stop() })
    const vfsB = createVfs(vfsInit, { meta: metaB, stripes, logger: prefixLogger('dev-b') })
    if (init.startB ?? true) await vfsB.start()
    closers.push(async () => { await vfsB.stop() })

    let shipped = 0
    const ship = async (): Promise<number> => {
      const ops: SignedOp[] = []
      // exportOps first waits for A's applied ops to commit.
      for await (const op of metaA.exportOps()) if (op.op.author === 'dev-a' && op.op.seq > shipped) ops.push(op)
      // As replication sends them: all at once, each run of A's ops ending on its seal.
      const report = await metaB.applyRemote(ops.map(op => ({ body: op.body, sig: op.sig })))
      const left = [...report.refused.map(r => `${r.seq}@${r.author}: ${r.reason}`), ...report.unsealed.map(u => `${u.seq}@${u.author}: unsealed`)]
      if (left.length > 0) throw new Error(`ship: ops of A not applied on B: ${left.join('; ')}`)
      if (ops.length > 0) shipped = ops[ops.length - 1].op.seq
      return ops.length
    }
    return {
      a: { meta: metaA, vfs: vfsA, target: new VfsPosixTarget(vfsA) },
      b: { meta: metaB, vfs: vfsB, target: new VfsPosixTarget(vfsB) },
      stripes,
      ship,
      close
    }
  } catch (err) {
    await close()
    throw err
  }
}
