import '../../../src/util/polyfill.js'
import { randomBytes, createHash } from 'node:crypto'
import { connect, createServer, type Socket } from 'node:net'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createLibp2p, type Libp2p } from 'libp2p'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import pWaitFor from 'p-wait-for'
import { generateSwarmKey, noisePrologue, palmMuxer, swarmProtector } from '../../../src/net/index.js'
import { PROTECTOR_VERSION } from '../../../src/net/protector.js'
import { prefixLogger } from '../../../src/util/logger.js'
import { onCleanup, type Cleanup } from '../../helpers/tmp.js'
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

/** The TCP host and port of a node's first listen address. */
function hostPort (addr: { getComponents: () => Array<{ name: string, value?: string }> }): { host: string, port: number } {
  const parts = addr.getComponents()
  return { host: parts.find(c => c.name === 'ip4')?.value ?? '', port: Number(parts.find(c => c.name === 'tcp')?.value) }
}

/** Reads exactly `n` bytes from a socket (rejects if it closes first). */
async function readExactly (sock: Socket, n: number): Promise<Buffer> {
  return await new Promise<Buffer>((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c])
      if (buf.byteLength >= n) { done(); sock.pause(); if (buf.byteLength > n) sock.unshift(buf.subarray(n)); resolve(buf.subarray(0, n)) }
    }
    const onClose = (): void => { done(); reject(new Error(`socket closed after ${buf.byteLength}/${n} bytes`)) }
    const done = (): void => { sock.off('data', onData); sock.off('close', onClose) }
    sock.on('data', onData)
    sock.on('close', onClose)
    sock.resume()
  })
}

async function openSocket (t: Cleanup, host: string, port: number): Promise<Socket> {
  const sock = connect(port, host)
  sock.on('error', () => {})
  onCleanup(t, () => { sock.destroy() })
  await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('close', () => { reject(new Error('connection refused')) }) })
  sock.pause()
  return sock
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

  it('bulk bytes cross the wire encrypted: a capture of the socket holds none of a 1 MiB payload', async (t) => {
    const key = generateSwarmKey()
    const a = await createRawNode(t, key, 'wire-a')
    const b = await createRawNode(t, key, 'wire-b')
    // a TCP relay between a and b that keeps every byte in both directions
    const captured: Buffer[] = []
    const sockets: Socket[] = []
    const relay = createServer((inbound) => {
      const outbound = connect(hostPort(b.getMultiaddrs()[0]).port, '127.0.0.1')
      sockets.push(inbound, outbound)
      for (const [from, to] of [[inbound, outbound], [outbound, inbound]]) {
        from.on('data', (c: Buffer) => { captured.push(c); to.write(c) })
        from.on('error', () => { to.destroy() })
        from.on('close', () => { to.destroy() })
      }
    })
    await new Promise<void>((resolve) => { relay.listen(0, '127.0.0.1', resolve) })
    onCleanup(t, async () => { for (const s of sockets) s.destroy(); await new Promise<void>((resolve) => { relay.close(() => { resolve() }) }) })
    const port = (relay.address() as { port: number }).port
    const payload = new Uint8Array(randomBytes(1024 * 1024))
    const via = { getMultiaddrs: () => [b.getMultiaddrs()[0].decapsulate('/tcp').encapsulate(`/tcp/${port}/p2p/${b.peerId.toString()}`)] } as unknown as Libp2p
    assert.equal(await echoDigest(a, via, payload), createHash('sha256').update(payload).digest('hex'))
    const wire = Buffer.concat(captured)
    assert.ok(wire.byteLength >= 2 * payload.byteLength, `the relay carried ${wire.byteLength} bytes`)
    for (let off = 0; off + 32 <= payload.byteLength; off += 4096) {
      assert.equal(wire.indexOf(payload.subarray(off, off + 32)), -1, `plaintext of the payload at offset ${off} is on the wire`)
    }
  })

  it('refuses a device that reflects the listener\'s own tag back at it from a second connection', async (t) => {
    const b = await createTestNode(t, { name: 'reflect-b' })
    const { host, port } = hostPort(b.node.multiaddrs()[0])
    // connection 1: learn b's nonce n1; connection 2: offer n1 as ours, learn b's nonce n2
    const c1 = await openSocket(t, host, port)
    const hello1 = await readExactly(c1, 33)
    const c2 = await openSocket(t, host, port)
    c2.write(Buffer.concat([Uint8Array.of(PROTECTOR_VERSION), hello1.subarray(1)]))
    const hello2 = await readExactly(c2, 33)
    // on connection 1, offer n2: b answers with its tag over (n1, n2), the tag connection 2 wants
    // from a device that holds the key, were tags not bound to the sender's role
    c1.write(Buffer.concat([Uint8Array.of(PROTECTOR_VERSION), hello2.subarray(1)]))
    const tag = await readExactly(c1, 32)
    const c2Closed = new Promise<void>((resolve) => { c2.once('close', () => { resolve() }) })
    c2.resume()
    c2.write(tag)
    await c2Closed
    await pWaitFor(() => b.node.stats().refusedConnections >= 1, { timeout: 10_000 })
    assert.deepEqual(b.node.connectedPeers(), [])
  })

  it('refuses a device that passes the gate but whose noise prologue is not the swarm\'s', async (t) => {
    const key = generateSwarmKey()
    const b = await createTestNode(t, { swarmKey: key, name: 'prologue-b' })
    // what an outsider who relays a member's gate messages has: the gate passed, no swarm key for noise
    const outsider = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionProtector: swarmProtector({ swarmKey: key }),
      connectionEncrypters: [noise({ prologueBytes: noisePrologue(generateSwarmKey()) })],
      streamMuxers: [palmMuxer()],
      logger: prefixLogger('prologue-outsider')
    })
    onCleanup(t, async () => { await outsider.stop() })
    await assert.rejects(outsider.dial(b.node.multiaddrs()[0], { signal: AbortSignal.timeout(15_000) }))
    assert.deepEqual(b.node.connectedPeers(), [])
    assert.deepEqual(outsider.getConnections(), [])
  })
})
