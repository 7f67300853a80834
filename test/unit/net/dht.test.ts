import '../../../src/util/polyfill.js'
import { randomBytes } from 'node:crypto'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pWaitFor from 'p-wait-for'
import { generateSwarmKey } from '../../../src/net/index.js'
import { cidOf } from '../../../src/util/cid.js'
import { createTestNode, waitOnline } from './net-helpers.js'

describe('LAN-only DHT (loopback)', () => {
  it('finds a device it was never told about through the DHT, and a provider of a CID', async (t) => {
    const swarmKey = generateSwarmKey()
    const hub = await createTestNode(t, { swarmKey, name: 'hub', dht: { enabled: true } })
    const hubAddrs = hub.node.multiaddrs().map(String)
    const a = await createTestNode(t, { swarmKey, name: 'dht-a', dht: { enabled: true }, bootstrap: hubAddrs })
    const c = await createTestNode(t, { swarmKey, name: 'dht-c', dht: { enabled: true }, bootstrap: hubAddrs })
    await waitOnline(hub.node, a.node)
    await waitOnline(hub.node, c.node)
    // a and c only know the hub: the DHT's self-lookups introduce them to each other
    await waitOnline(a.node, c.node, 20_000)

    const cid = cidOf(new Uint8Array(randomBytes(100)))
    await a.node.provide(cid, { signal: AbortSignal.timeout(10_000) })
    const found: string[] = []
    await pWaitFor(async () => {
      for await (const p of c.node.findProviders(cid, { signal: AbortSignal.timeout(5_000) })) found.push(p.id)
      return found.includes(a.node.peerId.toString())
    }, { timeout: 20_000 })
  })

  it('says NotSupportedError when the DHT is off', async (t) => {
    const n = await createTestNode(t, { name: 'no-dht' })
    await assert.rejects(n.node.provide(cidOf(Uint8Array.of(1))), { name: 'NotSupportedError' })
  })
})
