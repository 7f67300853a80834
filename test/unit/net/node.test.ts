import '../../../src/util/polyfill.js'
import { createServer } from 'node:net'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { createPalmNode, defaultAnnounceFilter, generateSwarmKey } from '../../../src/net/index.js'
import { MemoryFragmentStore } from '../../../src/store/memory-store.js'
import { cidOf } from '../../../src/util/cid.js'
import { prefixLogger } from '../../../src/util/logger.js'
import { onCleanup } from '../../helpers/tmp.js'
import { createTestNode } from './net-helpers.js'

const OTHER_PEER = '12D3KooWK15qLbVMmZYZTeoKnxNgawaQMee4kyMWbV8Qje6G7NpS'

const components = (): Parameters<typeof createPalmNode>[1] => {
  const store = new MemoryFragmentStore()
  return { store, logger: prefixLogger('node-test'), getHealth: () => ({ name: 'n', ...store.usage(), journalHead: '', version: '' }) }
}

describe('PalmNode lifecycle and settings', () => {
  it('refuses to be built without a 32-byte swarm key or with settings that would flap, naming every problem', () => {
    assert.throws(() => createPalmNode({}, components()), { name: 'InvalidConfigError' })
    assert.throws(() => createPalmNode({ swarmKey: new Uint8Array(16) }, components()), { name: 'InvalidConfigError' })
    assert.throws(() => createPalmNode({ swarmKey: generateSwarmKey(), gossipIntervalMs: 1000, offlineAfterMs: 500, putConcurrency: 0 }, components()),
      (err: Error) => err.name === 'InvalidConfigError' && /offlineAfterMs/.test(err.message) && /putConcurrency/.test(err.message))
  })

  it('start and stop are idempotent, stop waits for an unfinished start, and nothing listens before start', async (t) => {
    const n = await createTestNode(t, { noStart: true })
    assert.deepEqual(n.node.multiaddrs(), [])
    await Promise.all([n.node.start(), n.node.start()])
    assert.ok(n.node.multiaddrs().length > 0)
    assert.ok(n.node.multiaddrs()[0].toString().endsWith(`/p2p/${n.node.peerId.toString()}`))
    await Promise.all([n.node.stop(), n.node.stop()])
    await n.node.stop()
    await assert.rejects(n.node.dial('/ip4/127.0.0.1/tcp/1'), { name: 'NotConnectedError' })
    await assert.rejects(n.node.fragments.get(OTHER_PEER, cidOf(Uint8Array.of(1))), { name: 'NotConnectedError' })
  })

  it('says BusyError when its listen port is taken', async (t) => {
    const server = createServer()
    await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
    onCleanup(t, async () => { await new Promise(resolve => server.close(resolve)) })
    const port = (server.address() as { port: number }).port
    const node = createPalmNode({ swarmKey: generateSwarmKey(), listen: [`/ip4/127.0.0.1/tcp/${port}`], mdns: { enabled: false }, dht: { enabled: false } }, components())
    onCleanup(t, async () => { await node.stop() })
    await assert.rejects(node.start(), { name: 'BusyError' })
  })

  it('never announces loopback when a LAN address exists', () => {
    const lo = multiaddr('/ip4/127.0.0.1/tcp/4001')
    const lan = multiaddr('/ip4/10.1.2.3/tcp/4001')
    assert.deepEqual(defaultAnnounceFilter([lo, lan]).map(String), [lan.toString()])
    assert.deepEqual(defaultAnnounceFilter([lo]).map(String), [lo.toString()])
  })
})
