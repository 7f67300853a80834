/**
 * Loopback PALM nodes for the net tests: each with its own temp dir, peer key, prefixed logger and
 * memory store, listening on 127.0.0.1 port 0, mDNS off (it would multicast out of the host's
 * interface). Cleanup is registered as each node is created.
 */
import '../../../src/util/polyfill.js'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { createPalmNode, generateSwarmKey, loadOrCreatePeerKey, palmEncrypter, palmMuxer, swarmProtector, type LocalHealth, type PalmNode, type PalmNodeComponents, type PalmNodeInit } from '../../../src/net/index.js'
import type { FragmentStore } from '../../../src/store/index.js'
import { MemoryFragmentStore } from '../../../src/store/memory-store.js'
import { prefixLogger } from '../../../src/util/logger.js'
import { createTempDir, onCleanup, type Cleanup } from '../../helpers/tmp.js'

export interface TestNode {
  node: PalmNode
  store: MemoryFragmentStore
  dir: string
  name: string
  /** Changes what the node announces next. */
  health: LocalHealth
}

let counter = 0

export interface TestNodeOptions extends PalmNodeInit {
  name?: string
  capacityBytes?: number
  /** Reuse a directory (restart with the same key and peers file). */
  dir?: string
  /** Do not start the node. */
  noStart?: boolean
  /** The node's logger (default: prefixLogger(name)). */
  logger?: PalmNodeComponents['logger']
  /** The node's DELETE rule (PalmNodeComponents.mayDelete). */
  mayDelete?: PalmNodeComponents['mayDelete']
  /** Devices this node refuses (PalmNodeComponents.isRemoved). */
  isRemoved?: PalmNodeComponents['isRemoved']
  /** Answers invite exchanges and key fetches (PalmNodeComponents.invites). */
  invites?: PalmNodeComponents['invites']
  /** PalmNodeComponents.onKeyMismatch. */
  onKeyMismatch?: PalmNodeComponents['onKeyMismatch']
}

/** A started loopback node; stopped after the test. */
export async function createTestNode (t: Cleanup, opts: TestNodeOptions = {}): Promise<TestNode> {
  return await createTestNodeOver(t, new MemoryFragmentStore({ capacityBytes: opts.capacityBytes }), opts)
}

/** A started loopback node serving `store` (e.g. a file store); stopped after the test (the store is the caller's). */
export async function createTestNodeOver<S extends FragmentStore> (t: Cleanup, store: S, opts: TestNodeOptions = {}): Promise<Omit<TestNode, 'store'> & { store: S }> {
  const name = opts.name ?? `peer-${++counter}`
  const dir = opts.dir ?? await createTempDir(t, `palm-net-${name}-`)
  const health: LocalHealth = { name, capacityBytes: 0, usedBytes: 0, freeBytes: 0, fragmentCount: 0, journalHead: '', version: 'test' }
  const node = createPalmNode({
    peerKey: opts.peerKey ?? await loadOrCreatePeerKey(join(dir, 'peer.key')),
    swarmKey: opts.swarmKey ?? generateSwarmKey(),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: { enabled: false },
    dht: { enabled: false },
    gossipIntervalMs: 200,
    offlineAfterMs: 1_500,
    redialIntervalMs: 500,
    fallbackDialDelayMs: 300,
    ...opts
  }, {
    store,
    logger: opts.logger ?? prefixLogger(name),
    getHealth: () => ({ ...health, ...store.usage() }),
    ...(opts.mayDelete != null ? { mayDelete: opts.mayDelete } : {}),
    ...(opts.isRemoved != null ? { isRemoved: opts.isRemoved } : {}),
    ...(opts.invites != null ? { invites: opts.invites } : {}),
    ...(opts.onKeyMismatch != null ? { onKeyMismatch: opts.onKeyMismatch } : {})
  })
  onCleanup(t, async () => { await node.stop() })
  if (opts.noStart !== true) await node.start()
  return { node, store, dir, name, health }
}

/** Waits until `a` lists `b` as online (and optionally `b` lists `a`). */
export async function waitOnline (a: PalmNode, b: PalmNode, timeoutMs = 10_000): Promise<void> {
  await pWaitFor(() => a.membership.get(b.peerId.toString())?.online === true && b.membership.get(a.peerId.toString())?.online === true, { timeout: timeoutMs, interval: 20 })
}

/** Two nodes of one swarm, connected, each online in the other's view. */
export async function createConnectedPair (t: Cleanup, opts: TestNodeOptions = {}): Promise<[TestNode, TestNode]> {
  const swarmKey = opts.swarmKey ?? generateSwarmKey()
  const a = await createTestNode(t, { ...opts, swarmKey, name: 'peer-a' })
  const b = await createTestNode(t, { ...opts, swarmKey, name: 'peer-b' })
  await a.node.dial(b.node.multiaddrs()[0])
  await waitOnline(a.node, b.node)
  return [a, b]
}

/**
 * A bare libp2p node with only the swarm-key protector, noise and yamux (no PALM protocols): for
 * testing the protector alone, or for playing a misbehaving device. Stopped after the test.
 */
export async function createBareNode (t: Cleanup, swarmKey: Uint8Array, name: string): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionProtector: swarmProtector({ swarmKey }),
    connectionEncrypters: [palmEncrypter(swarmKey)],
    streamMuxers: [palmMuxer()],
    connectionManager: { inboundConnectionThreshold: 1000 },
    logger: prefixLogger(name)
  })
  onCleanup(t, async () => { await node.stop() })
  return node
}
