/**
 * A pool of real PALM nodes on loopback for the place tests: device 0 writes and reads through a
 * PoolStripeIO (real chunk pool, persisted spread queue, spreader), devices 1… are PalmNodes serving
 * memory stores. Devices can be stopped, and started again with their key and their fragments.
 * Everything is stopped after the test, in reverse order.
 */
import '../../../src/util/polyfill.js'
import { format } from 'node:util'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { createChunkPool } from '../../../src/chunk/index.js'
import type { DurabilityMode } from '../../../src/config/defaults.js'
import { generateSwarmKey } from '../../../src/net/index.js'
import { createPoolStripeIO, createSpreadQueue, type FileSpreadQueue, type PoolStripeIO } from '../../../src/place/index.js'
import { createSpreader, type Spreader } from '../../../src/repair/index.js'
import type { MemoryFragmentStore } from '../../../src/store/memory-store.js'
import type { ComponentLogger, Logger } from '../../../src/util/logger.js'
import { createTempDir, onCleanup, type Cleanup } from '../../helpers/tmp.js'
import { createTestNode, type TestNode } from '../net/net-helpers.js'

/** A ComponentLogger that keeps every line (errors marked) for assertions. */
export function captureLogger (lines: string[]): ComponentLogger {
  const make = (name: string): Logger => {
    const text = (fmt: unknown, args: unknown[]): string => format(String(fmt).replace(/%e/g, '%s'), ...args.map(a => a instanceof Error ? a.message : a))
    const log = ((fmt: unknown, ...args: unknown[]) => { lines.push(`${name} ${text(fmt, args)}`) }) as Logger
    log.error = (fmt: unknown, ...args: unknown[]) => { lines.push(`${name} ERROR ${text(fmt, args)}`) }
    log.trace = () => {}
    log.enabled = true
    log.newScope = (scope: string) => make(`${name}:${scope}`)
    return log
  }
  return { forComponent: make }
}

export interface PoolRigOptions {
  devices: number
  /** Capacity of each serving device, bytes (default unlimited). */
  capacityBytes?: number
  durability?: DurabilityMode
  readFailMs?: number
  /** Offline devices seen within this long are expected back (reads wait for them), ms (default 10 min). */
  knownForMs?: number
  /** Start the spreader (default true). */
  spreader?: boolean
  /** The writer's journal lag (ops of other devices not here yet), as the daemon passes it. */
  journalBehind?: () => number
}

export interface PoolRig {
  /** Device 0 is the writer. */
  nodes: TestNode[]
  io: PoolStripeIO
  queue: FileSpreadQueue
  spreader?: Spreader
  /** The pool's and spreader's log lines. */
  logs: string[]
  id: (i: number) => string
  store: (i: number) => MemoryFragmentStore
  /** Stops device i (its connections close; the writer sees it offline). */
  stop: (i: number) => Promise<void>
  /** Starts device i again with its key and fragments, and waits until the writer sees it online. */
  restart: (i: number) => Promise<void>
}

export async function createPoolRig (t: Cleanup, opts: PoolRigOptions): Promise<PoolRig> {
  const swarmKey = generateSwarmKey()
  const nodes: TestNode[] = []
  for (let i = 0; i < opts.devices; i++) {
    nodes.push(await createTestNode(t, { swarmKey, name: `dev${i}`, capacityBytes: i === 0 ? undefined : opts.capacityBytes }))
  }
  const online = async (i: number): Promise<void> => {
    await nodes[0].node.dial(nodes[i].node.multiaddrs()[0])
    await pWaitFor(() => nodes[0].node.membership.get(nodes[i].node.peerId.toString())?.online === true, { timeout: 10_000, interval: 20 })
  }
  for (let i = 1; i < opts.devices; i++) await online(i)

  const logs: string[] = []
  const logger = captureLogger(logs)
  const pool = createChunkPool({ salt: new Uint8Array(32).fill(5), workers: 2 })
  onCleanup(t, async () => { await pool.stop() })
  await pool.start()
  const dir = await createTempDir(t, 'palm-pool-')
  const queue = createSpreadQueue({ dir: join(dir, 'spread') }, { logger })
  await queue.start()
  onCleanup(t, async () => { await queue.stop() })
  const writer = nodes[0]
  const io = createPoolStripeIO({ durability: opts.durability, readFailMs: opts.readFailMs, knownForMs: opts.knownForMs, deviceName: 'dev0', placeTimeoutMs: 3000 }, {
    pool, store: writer.store, deviceId: writer.node.peerId.toString(), membership: writer.node.membership, fragments: writer.node.fragments, queue, logger,
    ...(opts.journalBehind != null ? { journalBehind: opts.journalBehind } : {})
  })
  onCleanup(t, async () => { await io.stop() })
  let spreader: Spreader | undefined
  if (opts.spreader !== false) {
    spreader = createSpreader({ intervalMs: 300 }, { queue, membership: writer.node.membership, fragments: writer.node.fragments, store: writer.store, deviceId: writer.node.peerId.toString(), logger })
    await spreader.start()
    onCleanup(t, async () => { await spreader?.stop() })
  }
  return {
    nodes,
    io,
    queue,
    spreader,
    logs,
    id: (i) => nodes[i].node.peerId.toString(),
    store: (i) => nodes[i].store,
    stop: async (i) => {
      await nodes[i].node.stop()
      await pWaitFor(() => writer.node.membership.get(nodes[i].node.peerId.toString())?.online === false, { timeout: 10_000, interval: 20 })
    },
    restart: async (i) => {
      const old = nodes[i]
      const again = await createTestNode(t, { swarmKey, name: old.name, dir: old.dir, capacityBytes: opts.capacityBytes })
      // The device comes back with its disk: copy what its store held.
      for await (const cid of old.store.list()) await again.store.put(cid, await old.store.get(cid))
      nodes[i] = again
      await online(i)
    }
  }
}
