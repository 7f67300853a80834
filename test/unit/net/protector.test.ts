import '../../../src/util/polyfill.js'
import { randomBytes, createHash } from 'node:crypto'
import { connect } from 'node:net'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Libp2p } from 'libp2p'
import pWaitFor from 'p-wait-for'
import { generateSwarmKey } from '../../../src/net/index.js'
import type { Cleanup } from '../../helpers/tmp.js'
import { createBareNode, createTestNode } from './net-helpers.js'
import type { Stream } from '@libp2p/interface'

const ECHO = '/palm-test/echo/1.0.0'

/** A bare node that echoes on ECHO. */
async function createRawNode (t: Cleanup, swarmKey: Uint8Array, name: string): Promise<Libp2p> {
  const node = await createBareNode(t, swarmKey, name)
  await node.handle(ECHO, (stream: Stream) => {
    void (async () => {
      for await (const chunk of stream) {
        if (!stream.send(chunk)) await stream.onDrain()
      }
      await stream.close()
    })().catch(err => { stream.abort(err) })
  })
  return node
}

/** Sends `bytes` over a fresh echo stream and returns the SHA-256 of what came back. */
async function echoDigest (from: Libp2p, to: Libp2p, bytes: Uint8Array): Promise<string> {
  const stream = await from.dialProtocol(to.getMultiaddrs()[0], ECHO, { signal: AbortSignal.timeout(10_000) })
  const hash = createHash('sha256')
  let received = 0
  const reading = (async () => {
    for await (const chunk of stream) {
      hash.update(chunk.subarray())
      received += chunk.byteLength
      if (received >= bytes.byteLength) break
    }
  })()
  for (let off = 0; off < bytes.byteLength; off += 256 * 1024) {
    if (!stream.send(bytes.subarray(off, off + 256 * 1024))) await stream.onDrain()
  }
  await reading
  await stream.close()
  assert.equal(received, bytes.byteLength)
  return hash.digest('hex')
}

describe('swarm-key protector', () => {
  it('carries 1 MiB and larger messages intact, in one write and in pieces', async (t) => {
    const key = generateSwarmKey()
    const a = await createRawNode(t, key, 'raw-a')
    const b = await createRawNode(t, key, 'raw-b')
    for (const size of [1024 * 1024, 8 * 1024 * 1024 + 3]) {
      const bytes = new Uint8Array(randomBytes(size))
      assert.equal(await echoDigest(a, b, bytes), createHash('sha256').update(bytes).digest('hex'))
    }
    // one single large send() call, the case that crashes @libp2p/pnet
    const big = new Uint8Array(randomBytes(3 * 1024 * 1024))
    const stream = await a.dialProtocol(b.getMultiaddrs()[0], ECHO)
    stream.send(big)
    let got = 0
    for await (const chunk of stream) { got += chunk.byteLength; if (got >= big.byteLength) break }
    await stream.close()
    assert.equal(got, big.byteLength)
  })

  it('survives many connections opened and closed', async (t) => {
    const key = generateSwarmKey()
    const a = await createRawNode(t, key, 'raw-a')
    const b = await createRawNode(t, key, 'raw-b')
    const payload = new Uint8Array(randomBytes(64 * 1024))
    const expected = createHash('sha256').update(payload).digest('hex')
    for (let i = 0; i < 60; i++) {
      assert.equal(await echoDigest(a, b, payload), expected)
      await a.hangUp(b.peerId)
    }
    await pWaitFor(() => a.getConnections().length === 0 && b.getConnections().length === 0, { timeout: 5_000 })
  })

  it('refuses a device with another swarm key: the dial fails and the listener records no connection', async (t) => {
    const a = await createTestNode(t, { name: 'keyed-a' })
    const b = await createTestNode(t, { name: 'other-key-b' })
    let opened = 0
    b.node.addEventListener('peer:online', () => { opened++ })
    for (let i = 0; i < 3; i++) {
      await assert.rejects(a.node.dial(b.node.multiaddrs()[0]))
    }
    await pWaitFor(() => b.node.stats().refusedConnections >= 1, { timeout: 5_000 })
    assert.deepEqual(b.node.connectedPeers(), [])
    assert.deepEqual(a.node.connectedPeers(), [])
    assert.deepEqual(b.node.membership.peers(), [])
    assert.equal(opened, 0)
  })

  it('refuses raw garbage on the listening port and keeps serving swarm devices', async (t) => {
    const key = generateSwarmKey()
    const a = await createTestNode(t, { swarmKey: key, name: 'garbage-a' })
    const b = await createTestNode(t, { swarmKey: key, name: 'garbage-b' })
    const parts = b.node.multiaddrs()[0].getComponents()
    const addr = { host: parts.find(c => c.name === 'ip4')?.value ?? '', port: Number(parts.find(c => c.name === 'tcp')?.value) }
    for (const size of [1, 33, 65, 4096, 300_000]) {
      await new Promise<void>((resolve) => {
        const sock = connect(addr.port, addr.host, () => { sock.write(randomBytes(size)) })
        sock.on('error', () => {})
        sock.on('close', () => { resolve() })
        sock.setTimeout(10_000, () => { sock.destroy() })
      })
    }
    assert.deepEqual(b.node.connectedPeers(), [])
    assert.equal(await a.node.dial(b.node.multiaddrs()[0]), b.node.peerId.toString())
  })
})
