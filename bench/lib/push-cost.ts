/**
 * What a receiving journal pays per batch of another device's ops, apart from the network: device
 * A commits `ops` creates one at a time (each its own commit and seal, as a device writing small
 * files or repairing small stripes one by one replicates them); device B applies them as they
 * would arrive, one push per commit, and device C the same ops in one call. CPU of this process
 * (all threads: SQLite and signature checks run on the threadpool) over each.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { opSigner } from '../../src/daemon/signer.js'
import { createMetaStore, ROOT_INO, type MetaStore, type WireOp } from '../../src/meta/index.js'

export interface PushCost {
  ops: number
  /** B: one push per op, CPU µs per op (= per push). */
  onePerPushCpuUsPerOp: number
  /** C: all the ops in one call, CPU µs per op. */
  oneCallCpuUsPerOp: number
  note: string
}

async function cpuUsOf (fn: () => Promise<void>): Promise<number> {
  const c0 = process.cpuUsage()
  await fn()
  const c = process.cpuUsage(c0)
  return c.user + c.system
}

export async function pushCost (ops: number): Promise<PushCost> {
  const dir = await mkdtemp(join(tmpdir(), 'palm-bench-push-cost-'))
  // Signed as the daemon signs (its device key, commits sealed on the threadpool).
  const keys = await Promise.all([0, 1, 2].map(async () => opSigner(await generateKeyPair('Ed25519'))))
  const stores: MetaStore[] = []
  try {
    for (const [i, k] of keys.entries()) {
      const m = createMetaStore({ path: join(dir, `d${i}.db`), deviceId: `dev-${i}`, ...k })
      await m.start()
      stores.push(m)
      for (const [j, other] of keys.entries()) await m.trustAuthor(`dev-${j}`, other.publicKey)
    }
    const [a, b, c] = stores
    const wire = (list: Array<{ body: string, sig?: Uint8Array }>): WireOp[] => list.map(o => ({ body: o.body, sig: o.sig }))
    // A's ops before the creates (its root), given to B and C first.
    const setUp = wire(await a.readOps('dev-0', 0, 1000))
    const pushes: WireOp[][] = []
    for (let i = 0; i < ops; i++) {
      await a.create(ROOT_INO, `f${i}`, { type: 'file', mode: 0o644, uid: 0, gid: 0 })
      // Read back after its commit: exactly the op this create logged, signed.
      pushes.push(wire(await a.readOps('dev-0', setUp.length + i, 1000)))
    }
    if (pushes.some(p => p.length !== 1)) throw new Error('a create did not commit alone')
    for (const m of [b, c]) await m.applyRemote(setUp)
    const onePerPush = await cpuUsOf(async () => { for (const p of pushes) await b.applyRemote(p) })
    const oneCall = await cpuUsOf(async () => { await c.applyRemote(pushes.flat()) })
    return {
      ops,
      onePerPushCpuUsPerOp: Math.round(onePerPush / ops),
      oneCallCpuUsPerOp: Math.round(oneCall / ops),
      note: `${ops} create ops of one device, each committed and sealed alone; applied by a second journal one push per op, and by a third in one call; CPU of this process, all threads, no network`
    }
  } finally {
    for (const m of stores) await m.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
