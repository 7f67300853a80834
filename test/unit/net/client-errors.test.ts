import '../../../src/util/polyfill.js'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pWaitFor from 'p-wait-for'
import type { Libp2p } from 'libp2p'
import { FRAGMENT_PROTOCOL, generateSwarmKey } from '../../../src/net/index.js'
import { FramedStream, encodeVarint } from '../../../src/net/protocols/frames.js'
import { MsgType, Status, encodeResponse } from '../../../src/net/protocols/fragment-messages.js'
import { cidOf } from '../../../src/util/cid.js'
import type { Cleanup } from '../../helpers/tmp.js'
import { createBareNode, createTestNode } from './net-helpers.js'
import { prefixLogger } from '../../../src/util/logger.js'
import type { ComponentLogger, Connection, Logger, Stream } from '@libp2p/interface'

type Behaviour = (stream: Stream, connection: Connection) => Promise<void>

/** A swarm device whose fragment server misbehaves as told. */
async function createRogue (t: Cleanup, swarmKey: Uint8Array, behaviour: Behaviour, maxInboundStreams?: number): Promise<Libp2p> {
  const node = await createBareNode(t, swarmKey, 'rogue')
  await node.handle(FRAGMENT_PROTOCOL, (stream: Stream, connection: Connection) => { void behaviour(stream, connection).catch(err => { stream.abort(err) }) }, maxInboundStreams != null ? { maxInboundStreams } : {})
  return node
}

/** Reads one request frame, then answers with `reply` (raw frame body). */
function answer (reply: (req: Uint8Array) => Uint8Array): Behaviour {
  return async (stream) => {
    const framed = new FramedStream(stream, 1 << 20)
    const req = await framed.read(AbortSignal.timeout(5_000))
    await framed.write(reply(req?.subarray() ?? new Uint8Array(0)), AbortSignal.timeout(5_000))
    await stream.close()
  }
}

describe('fragment client against a misbehaving device', () => {
  const bytes = Uint8Array.from({ length: 100 }, (_, i) => i)
  const cid = cidOf(bytes)

  async function setup (t: Cleanup, behaviour: Behaviour): Promise<{ client: Awaited<ReturnType<typeof createTestNode>>, rogue: Libp2p }> {
    const swarmKey = generateSwarmKey()
    const rogue = await createRogue(t, swarmKey, behaviour)
    const client = await createTestNode(t, { swarmKey, name: 'client', requestTimeoutMs: 500 })
    await client.node.dial(rogue.getMultiaddrs()[0])
    return { client, rogue }
  }

  it('times out a device that never answers, with TimeoutError', async (t) => {
    const { client, rogue } = await setup(t, async () => { await new Promise(() => {}) })
    await assert.rejects(client.node.fragments.get(rogue.peerId, cid), { name: 'TimeoutError' })
    await assert.rejects(client.node.fragments.has(rogue.peerId, [cid]), { name: 'TimeoutError' })
  })

  it('refuses bytes that do not match the CID asked for, with IntegrityError', async (t) => {
    const wrong = Uint8Array.from(bytes, b => b ^ 1)
    const { client, rogue } = await setup(t, answer(() => encodeResponse({ type: MsgType.GetRes, result: { status: Status.Ok, reason: '' }, bytes: wrong }).subarray()))
    await assert.rejects(client.node.fragments.get(rogue.peerId, cid), { name: 'IntegrityError' })
  })

  it('turns a garbage or mismatched reply into ProtocolError and counts it', async (t) => {
    const { client, rogue } = await setup(t, answer((req) => req[1] === MsgType.Get ? Uint8Array.of(1, 200, 7) : encodeResponse({ type: MsgType.HasRes, present: [true, false, true] }).subarray()))
    await assert.rejects(client.node.fragments.get(rogue.peerId, cid), { name: 'ProtocolError' })
    await assert.rejects(client.node.fragments.has(rogue.peerId, [cid]), { name: 'ProtocolError' })
    assert.ok(client.node.stats().fragment.unexpected + client.node.stats().fragment.malformed >= 1)
  })

  it('reports a reset stream or an oversized reply as a failure, never a hang or a crash', async (t) => {
    const { client, rogue } = await setup(t, async (stream) => {
      const framed = new FramedStream(stream, 1 << 20)
      const req = await framed.read(AbortSignal.timeout(5_000))
      if (req?.get(1) === MsgType.Get) stream.abort(new Error('rogue reset'))
      else stream.send(encodeVarint(1 << 30))
    })
    await assert.rejects(client.node.fragments.get(rogue.peerId, cid), (err: Error) => ['NotConnectedError', 'ProtocolError'].includes(err.name))
    await assert.rejects(client.node.fragments.put(rogue.peerId, cid, bytes), { name: 'ProtocolError' })
  })

  /** Breaks the first request with `brk` (after reading it), then answers gets with `bytes`; counts the streams. */
  function breaksFirst (brk: (stream: Stream, connection: Connection) => void): { behaviour: Behaviour, streams: () => number } {
    let streams = 0
    const reply = answer(() => encodeResponse({ type: MsgType.GetRes, result: { status: Status.Ok, reason: '' }, bytes }).subarray())
    return {
      streams: () => streams,
      behaviour: async (stream, connection) => {
        if (++streams > 1) { await reply(stream, connection); return }
        await new FramedStream(stream, 1 << 20).read(AbortSignal.timeout(5_000))
        brk(stream, connection)
      }
    }
  }

  it('retries a request once on a fresh stream when its stream is reset under it', async (t) => {
    const rogue = breaksFirst((stream) => { stream.abort(new Error('rogue reset')) })
    const { client, rogue: node } = await setup(t, rogue.behaviour)
    assert.deepEqual(new Uint8Array(await client.node.fragments.get(node.peerId, cid)), bytes)
    assert.equal(rogue.streams(), 2)
  })

  it('dials again and retries once when the connection is lost under a request', async (t) => {
    const rogue = breaksFirst((_stream, connection) => { connection.abort(new Error('rogue drops the connection')) })
    const { client, rogue: node } = await setup(t, rogue.behaviour)
    assert.deepEqual(new Uint8Array(await client.node.fragments.get(node.peerId, cid)), bytes)
    assert.equal(rogue.streams(), 2)
  })

  it('says NotConnectedError for a device that is gone, and putMany fails every item', async (t) => {
    const { client, rogue } = await setup(t, answer(() => new Uint8Array(0)))
    const id = rogue.peerId
    await rogue.stop()
    await assert.rejects(client.node.fragments.get(id, cid), { name: 'NotConnectedError' })
    const outcomes = await client.node.fragments.putMany(id, [{ cid, bytes }, { cid, bytes }])
    assert.ok(outcomes.every(o => !o.ok && o.error.name === 'NotConnectedError'))
  })
})

/** A logger that keeps PALM's lines logged at error level (the ones a user sees by default). */
function errorLines (name: string, lines: string[]): ComponentLogger {
  const base = prefixLogger(name)
  const wrap = (component: string, l: Logger): Logger => Object.assign((fmt: unknown, ...args: unknown[]) => { l(fmt, ...args) }, {
    error: (fmt: unknown, ...args: unknown[]) => { if (component.startsWith('palm:')) lines.push(`${component}: ${String(fmt)}`); l.error(fmt, ...args) },
    trace: l.trace,
    enabled: l.enabled,
    newScope: (n: string) => wrap(`${component}:${n}`, l.newScope(n))
  })
  return { forComponent: (component: string) => wrap(component, base.forComponent(component)) }
}

describe('fragment server against a client that gives up', () => {
  it('counts a stream the client reset under its request without an error line; an oversized frame gets its line', async (t) => {
    const swarmKey = generateSwarmKey()
    const lines: string[] = []
    const server = await createTestNode(t, { swarmKey, name: 'server', logger: errorLines('server', lines) })
    const client = await createBareNode(t, swarmKey, 'client')
    await client.dial(server.node.multiaddrs()[0])
    const id = server.node.peerId

    // a get abandoned half-sent (as a read that had its k fragments aborts the others)
    const abandoned = await client.dialProtocol(id, FRAGMENT_PROTOCOL)
    abandoned.send(Uint8Array.of(200, 1, 1))
    await new Promise(resolve => setTimeout(resolve, 50))
    abandoned.abort(new Error('the read has its k fragments'))
    await pWaitFor(() => server.node.stats().fragment.errors === 1, { timeout: 5_000 })
    assert.deepEqual(lines, [])

    // a frame over the size limit is still an error line
    const junk = await client.dialProtocol(id, FRAGMENT_PROTOCOL)
    junk.send(encodeVarint(1 << 30))
    await pWaitFor(() => lines.length === 1, { timeout: 5_000 })
    assert.match(lines[0], /fragment-server: %s stream from peer %s reset/)
    assert.equal(server.node.stats().fragment.oversized, 1)
  })
})

describe('fragment client within the server\'s stream limit', () => {
  async function pair (t: Cleanup, limit: number): Promise<{ client: Awaited<ReturnType<typeof createTestNode>>, server: Awaited<ReturnType<typeof createTestNode>> }> {
    const swarmKey = generateSwarmKey()
    const server = await createTestNode(t, { swarmKey, name: 'server', maxInboundStreams: limit })
    const client = await createTestNode(t, { swarmKey, name: 'client', maxInboundStreams: limit })
    await client.node.dial(server.node.multiaddrs()[0])
    return { client, server }
  }

  it('runs many requests at once to one device without a stream the device refuses', async (t) => {
    const { client, server } = await pair(t, 2)
    const fragments = Array.from({ length: 16 }, (_, i) => Uint8Array.from({ length: 256 << 10 }, (_, j) => (i * 7 + j) & 255))
    const cids = fragments.map(f => cidOf(f))
    for (let i = 0; i < fragments.length; i++) await server.store.put(cids[i], fragments[i])
    // a device allows `limit` fragment streams per connection; libp2p resets the ones past it
    const got = await Promise.all(cids.map(async c => await client.node.fragments.get(server.node.peerId, c)))
    got.forEach((g, i) => { assert.deepEqual(new Uint8Array(g), fragments[i]) })
    const outcomes = await Promise.all(cids.map(async (c, i) => await client.node.fragments.putMany(server.node.peerId, [{ cid: c, bytes: fragments[i] }])))
    assert.ok(outcomes.flat().every(o => o.ok))
    assert.equal(server.node.stats().fragment.errors, 0)
  })

  it('lets a request waiting for a stream be cancelled while the stream is busy', async (t) => {
    const swarmKey = generateSwarmKey()
    // the device accepts one stream: a second one opened at once would be reset, not cancelled
    const rogue = await createRogue(t, swarmKey, async () => { await new Promise(() => {}) }, 1)
    const client = await createTestNode(t, { swarmKey, name: 'client', maxInboundStreams: 1, requestTimeoutMs: 1_000 })
    await client.node.dial(rogue.getMultiaddrs()[0])
    const cid = cidOf(Uint8Array.of(1))
    let firstSettled = false
    const first = client.node.fragments.get(rogue.peerId, cid).finally(() => { firstSettled = true })
    const cancel = new AbortController()
    const waiting = client.node.fragments.get(rogue.peerId, cid, { signal: cancel.signal })
    setTimeout(() => { cancel.abort() }, 20)
    await assert.rejects(waiting, { name: 'AbortedError' })
    assert.equal(firstSettled, false, 'the waiting request was cancelled while the busy one still ran')
    await assert.rejects(first, { name: 'TimeoutError' })
  })

})
