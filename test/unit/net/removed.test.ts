/** A removed device holding the swarm key still cannot connect, either way; members can. */
import '../../../src/util/polyfill.js'
import assert from 'node:assert/strict'
import { it } from 'node:test'
import pWaitFor from 'p-wait-for'
import { generateSwarmKey } from '../../../src/net/index.js'
import { createTestNode } from './net-helpers.js'

it('a node refuses connections from and to a removed device, and serves the others', async (t) => {
  const swarmKey = generateSwarmKey()
  const gone = await createTestNode(t, { swarmKey, name: 'removed' })
  const removed = new Set([gone.node.peerId.toString()])
  const b = await createTestNode(t, { swarmKey, name: 'keeper', isRemoved: (id) => removed.has(id) })
  const member = await createTestNode(t, { swarmKey, name: 'member' })
  // The dialler may finish its side before the keeper, which refuses once noise names it, closes.
  await gone.node.dial(b.node.multiaddrs()[0]).catch(() => {})
  await pWaitFor(() => !gone.node.connectedPeers().includes(b.node.peerId.toString()), { timeout: 10_000, interval: 50 })
  assert.equal(b.node.connectedPeers().includes(gone.node.peerId.toString()), false)
  await assert.rejects(b.node.dial(gone.node.multiaddrs()[0]))
  assert.equal(await member.node.dial(b.node.multiaddrs()[0]), b.node.peerId.toString())
})
