import '../../../src/util/polyfill.js'
import { readFile, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pWaitFor from 'p-wait-for'
import { generateSwarmKey, type PeerState } from '../../../src/net/index.js'
import { HEALTH_PROTOCOL, MAX_HEALTH_MESSAGE_BYTES } from '../../../src/net/constants.js'
import { decodeAnnouncement, encodeAnnouncement } from '../../../src/net/protocols/health.js'
import { FramedStream } from '../../../src/net/protocols/frames.js'
import { MembershipView } from '../../../src/net/membership.js'
import { logger } from '../../../src/util/logger.js'
import { createTempDir } from '../../helpers/tmp.js'
import { createBareNode, createConnectedPair, createTestNode, waitOnline } from './net-helpers.js'

/** A TCP port that was free a moment ago. */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  return port
}

const announcement = { name: 'n', capacityBytes: 10, usedBytes: 1, freeBytes: 9, fragmentCount: 1, journalHead: 'h', version: 'v', uptimeMs: 5 }

describe('membership view', () => {
  it('goes online on the first announcement, updates, and goes offline after the timeout', () => {
    const view = new MembershipView({ offlineAfterMs: 1000 }, logger('palm:test'))
    const events: string[] = []
    for (const type of ['peer:online', 'peer:offline', 'peer:update'] as const) view.addEventListener(type, () => { events.push(type) })
    view.heard('p1', announcement, 10_000)
    view.heard('p1', { ...announcement, usedBytes: 2 }, 10_500)
    assert.equal(view.get('p1')?.usedBytes, 2)
    view.checkTimeouts(11_400)
    assert.equal(view.get('p1')?.online, true)
    view.checkTimeouts(11_600)
    assert.equal(view.get('p1')?.online, false)
    view.heard('p1', announcement, 12_000)
    view.disconnected('p1')
    assert.deepEqual(events, ['peer:online', 'peer:update', 'peer:offline', 'peer:online', 'peer:offline'])
  })

  it('remembered peers are known and offline until heard', () => {
    const view = new MembershipView({ offlineAfterMs: 1000 }, logger('palm:test'))
    view.remember([{ id: 'p2', name: 'nas', addrs: ['/ip4/10.0.0.2/tcp/1'], lastSeenMs: 7 }])
    assert.deepEqual(view.peers().map(p => [p.id, p.name, p.online, p.lastSeenMs]), [['p2', 'nas', false, 7]])
    assert.equal(view.describe('p2'), 'nas (p2)')
  })
})

describe('health gossip between loopback nodes', () => {
  it('announces name, capacity, usage, journal head, version and uptime, with an rtt', async (t) => {
    const [a, b] = await createConnectedPair(t)
    a.health.journalHead = 'head-42'
    a.health.version = '9.9.9'
    const seenByB = (): PeerState | undefined => b.node.membership.get(a.node.peerId.toString())
    await pWaitFor(() => seenByB()?.journalHead === 'head-42', { timeout: 5_000 })
    const s = seenByB()
    assert.ok(s != null)
    assert.equal(s.name, 'peer-a')
    assert.equal(s.version, '9.9.9')
    assert.equal(s.online, true)
    assert.ok(s.uptimeMs > 0)
    assert.ok(s.addrs.length > 0 && s.addrs[0].startsWith('/ip4/127.0.0.1/tcp/'))
    assert.ok(s.lastSeenMs > Date.now() - 5_000)
    await pWaitFor(() => a.node.membership.get(b.node.peerId.toString())?.rttMs != null, { timeout: 5_000 })
  })

  it('carries every announcement to a peer on one stream, and still serves a pusher that closes its stream after one', async (t) => {
    const [a, b] = await createConnectedPair(t)
    // Gossip every 200 ms: after 2 s B has answered ~10 of A's pushes, all on the stream A keeps.
    const start = b.node.stats().health
    await new Promise(resolve => setTimeout(resolve, 2_000))
    const end = b.node.stats().health
    const answered = end.requests - start.requests
    assert.ok(answered >= 4, `B answered ${answered} announcements in 2 s`)
    assert.equal(end.streams - start.streams, 0, `A opened ${end.streams - start.streams} health streams for ${answered} announcements`)
    assert.equal(end.malformed + end.unexpected + end.timeouts + end.errors, 0)
    // An older device's push: one announcement, then it closes the stream.
    const stream = await a.node.openStream(b.node.peerId.toString(), HEALTH_PROTOCOL)
    const framed = new FramedStream(stream, MAX_HEALTH_MESSAGE_BYTES)
    const signal = AbortSignal.timeout(10_000)
    await framed.write(encodeAnnouncement({ ...announcement, name: 'old-style' }), signal)
    assert.deepEqual([...(await framed.read(signal))?.subarray() ?? []], [1])
    await stream.close({ signal })
    await pWaitFor(() => b.node.stats().health.streams === end.streams + 1, { timeout: 5_000 })
    const after = b.node.stats().health
    assert.equal(after.malformed + after.unexpected + after.timeouts + after.errors, 0)
  })

  it('keeps announcing to a device of the older protocol, which closes its stream after each announcement', async (t) => {
    const swarmKey = generateSwarmKey()
    const a = await createTestNode(t, { swarmKey, name: 'peer-a' })
    const old = await createBareNode(t, swarmKey, 'old-peer')
    let streams = 0
    let announcements = 0
    // The health server of the older version: one announcement, its ack, then the stream is closed.
    await old.handle(HEALTH_PROTOCOL, async (stream) => {
      streams++
      const framed = new FramedStream(stream, MAX_HEALTH_MESSAGE_BYTES)
      const signal = AbortSignal.timeout(10_000)
      try {
        const frame = await framed.read(signal)
        if (frame == null) return
        assert.equal(decodeAnnouncement(frame.subarray()).name, 'peer-a')
        await framed.write(Uint8Array.of(1), signal)
        announcements++
        await stream.close({ signal })
      } catch (err) {
        stream.abort(err as Error)
      }
    })
    await a.node.dial(old.getMultiaddrs()[0])
    await pWaitFor(() => announcements >= 4, { timeout: 20_000, interval: 20 })
    // Every push got through, each on a stream of its own.
    assert.ok(streams <= announcements + 1, `${streams} streams for ${announcements} announcements`)
  })

  it('sees a stopped peer go offline and its restart (same key, new port) come back online via the peers file', async (t) => {
    const swarmKey = generateSwarmKey()
    const a = await createTestNode(t, { swarmKey, name: 'stay' })
    const dir = await createTempDir(t, 'palm-net-restart-')
    const peersFile = join(dir, 'peers.json')
    const bFirst = await createTestNode(t, { swarmKey, name: 'restart', dir, peersFile })
    await a.node.dial(bFirst.node.multiaddrs()[0])
    await waitOnline(a.node, bFirst.node)
    const bId = bFirst.node.peerId.toString()
    const offline = new Promise<void>((resolve) => { a.node.membership.addEventListener('peer:offline', (e) => { if (e.detail.id === bId) resolve() }) })
    await bFirst.node.stop()
    await offline
    assert.equal(a.node.membership.get(bId)?.online, false)

    const bAgain = await createTestNode(t, { swarmKey, name: 'restart', dir, peersFile, noStart: true })
    assert.equal(bAgain.node.peerId.toString(), bId)
    await bAgain.node.start()
    await waitOnline(a.node, bAgain.node)
    // the peers file was written (mode 0600) and names the other device
    await pWaitFor(async () => (await readFile(peersFile, 'utf8').catch(() => '')).includes(a.node.peerId.toString()), { timeout: 5_000 })
    assert.equal((await stat(peersFile)).mode & 0o777, 0o600)
  })

  it('dials its bootstrap addresses (invite) on its own and retries until they answer', async (t) => {
    const swarmKey = generateSwarmKey()
    const port = await freePort()
    const c = await createTestNode(t, { swarmKey, name: 'invited', bootstrap: [`/ip4/127.0.0.1/tcp/${port}`] })
    await pWaitFor(() => c.node.stats().fragment.streams === 0 && c.node.connectedPeers().length === 0)
    const a = await createTestNode(t, { swarmKey, name: 'anchor', listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    await waitOnline(a.node, c.node)
  })
})
