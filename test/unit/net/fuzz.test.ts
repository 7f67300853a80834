import '../../../src/util/polyfill.js'
import { randomBytes } from 'node:crypto'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pWaitFor from 'p-wait-for'
import { FRAGMENT_PROTOCOL, HEALTH_PROTOCOL } from '../../../src/net/index.js'
import { encodeVarint } from '../../../src/net/protocols/frames.js'
import { MsgType, encodeRequest, encodeResponse, Status } from '../../../src/net/protocols/fragment-messages.js'
import { cidOf } from '../../../src/util/cid.js'
import { createConnectedPair, type TestNode } from './net-helpers.js'
import type { ProtocolCounters } from '../../../src/net/index.js'

function frame (body: Uint8Array): Uint8Array {
  return Buffer.concat([encodeVarint(body.byteLength), body])
}

/** Sends raw bytes on a fresh stream and drains it until the server closes or resets it. */
async function sendRaw (from: TestNode, to: TestNode, protocol: string, bytes: Uint8Array, closeWrite = true): Promise<void> {
  const stream = await from.node.openStream(to.node.peerId, protocol)
  stream.send(bytes)
  if (closeWrite) await stream.close().catch(() => {})
  try {
    for await (const _ of stream) { /* drain whatever the server says */ }
  } catch {}
}

async function stillServes (a: TestNode, b: TestNode): Promise<void> {
  const bytes = new Uint8Array(randomBytes(5000))
  const cid = cidOf(bytes)
  await a.node.fragments.put(b.node.peerId, cid, bytes)
  assert.deepEqual(Buffer.from(await a.node.fragments.get(b.node.peerId, cid)), Buffer.from(bytes))
}

async function expectCount (b: TestNode, which: 'fragment' | 'health', key: keyof ProtocolCounters, atLeast: number): Promise<void> {
  await pWaitFor(() => b.node.stats()[which][key] >= atLeast, { timeout: 5_000, interval: 10 })
}

describe('malformed input never crashes a node', () => {
  it('fragment protocol: random bytes, oversized, malformed and unexpected frames reset the stream and are counted', async (t) => {
    const [a, b] = await createConnectedPair(t, { maxFragmentBytes: 1024 * 1024 })
    const validCid = cidOf(Uint8Array.of(1, 2, 3))

    for (let i = 0; i < 20; i++) await sendRaw(a, b, FRAGMENT_PROTOCOL, new Uint8Array(randomBytes(1 + (i * 97) % 3000)))
    await stillServes(a, b)

    const before = b.node.stats().fragment
    await sendRaw(a, b, FRAGMENT_PROTOCOL, encodeVarint(1024 * 1024 * 1024), false)
    await expectCount(b, 'fragment', 'oversized', before.oversized + 1)

    // a response where a request belongs
    await sendRaw(a, b, FRAGMENT_PROTOCOL, frame(encodeResponse({ type: MsgType.SyncRes, result: { status: Status.Ok, reason: '' } }).subarray()))
    await expectCount(b, 'fragment', 'unexpected', before.unexpected + 1)

    // a valid GET followed by trailing garbage inside the same frame
    const trailing = Buffer.concat([encodeRequest({ type: MsgType.Get, cid: validCid }).subarray(), Uint8Array.of(9, 9)])
    await sendRaw(a, b, FRAGMENT_PROTOCOL, frame(trailing))
    // a PUT claiming 2^40 items, and one whose CID bytes are junk
    await sendRaw(a, b, FRAGMENT_PROTOCOL, frame(Buffer.concat([Uint8Array.of(1, MsgType.Put), encodeVarint(2 ** 40)])))
    await sendRaw(a, b, FRAGMENT_PROTOCOL, frame(Buffer.concat([Uint8Array.of(1, MsgType.Get, 5), randomBytes(5)])))
    // a frame cut short by the end of the stream
    await sendRaw(a, b, FRAGMENT_PROTOCOL, Buffer.concat([encodeVarint(1000), randomBytes(10)]))
    await expectCount(b, 'fragment', 'malformed', before.malformed + 4)

    // another wire version gets a clear refusal, not a crash
    await sendRaw(a, b, FRAGMENT_PROTOCOL, frame(Uint8Array.of(99, MsgType.Get)))
    await expectCount(b, 'fragment', 'unexpected', before.unexpected + 2)

    await stillServes(a, b)
    assert.ok(b.node.connectedPeers().includes(a.node.peerId.toString()))
  })

  it('health protocol: garbage and bad announcements are refused and counted; the peer stays online', async (t) => {
    const [a, b] = await createConnectedPair(t)
    const before = b.node.stats().health
    const bad = [
      new Uint8Array(randomBytes(200)),
      frame(new TextEncoder().encode('{not json')),
      frame(new TextEncoder().encode(JSON.stringify({ v: 1, name: 'x' }))),
      frame(new TextEncoder().encode(JSON.stringify({ v: 1, name: 'x', capacityBytes: -1, usedBytes: 0, freeBytes: 0, fragmentCount: 0, journalHead: '', version: '', uptimeMs: 0 }))),
      frame(new TextEncoder().encode(JSON.stringify({ v: 7 }))),
      encodeVarint(10 * 1024 * 1024)
    ]
    for (const bytes of bad) await sendRaw(a, b, HEALTH_PROTOCOL, bytes)
    await pWaitFor(() => {
      const h = b.node.stats().health
      return h.malformed + h.unexpected + h.oversized - before.malformed - before.unexpected - before.oversized >= bad.length
    }, { timeout: 5_000 })
    assert.equal(b.node.membership.get(a.node.peerId.toString())?.name, 'peer-a')
    assert.equal(b.node.membership.get(a.node.peerId.toString())?.online, true)
  })

  it('foreign protocols get nothing', async (t) => {
    const [a, b] = await createConnectedPair(t)
    await assert.rejects(a.node.openStream(b.node.peerId, '/ipfs/bitswap/1.2.0'))
    await assert.rejects(a.node.openStream(b.node.peerId, '/palm/fragment/9.9.9'))
    await stillServes(a, b)
  })
})
