/**
 * Spot check of acknowledged puts: the sampler's bounds, and, between real loopback nodes, a device
 * that acknowledges puts and drops the data is caught while an honest one passes.
 */
import '../../../src/util/polyfill.js'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { it } from 'node:test'
import { cidOf } from '../../../src/util/cid.js'
import { SpotChecker, SpotSampler } from '../../../src/daemon/spot-check.js'
import { generateSwarmKey } from '../../../src/net/index.js'
import { prefixLogger } from '../../../src/util/logger.js'
import { createTestNode, waitOnline } from '../net/net-helpers.js'

const fragment = (): { cid: ReturnType<typeof cidOf>, bytes: Uint8Array } => {
  const bytes = new Uint8Array(randomBytes(512))
  return { cid: cidOf(bytes), bytes }
}

it('the sampler keeps a share of acks, a bounded queue, and hands out only old enough samples, a few at a time', () => {
  let r = 0
  const s = new SpotSampler({ sampleRate: 0.5, maxPending: 3, checksPerRun: 2, minAgeMs: 100 }, () => { r = (r + 0.3) % 1; return r })
  const kept = Array.from({ length: 10 }, (_, i) => s.offer('p', fragment().cid, 1000 + i)).filter(Boolean).length
  assert.ok(kept >= 3 && kept <= 7, `about half kept (${kept})`)
  assert.equal(s.pending, 3, 'the queue is bounded')
  assert.deepEqual(s.due(1050), [], 'nothing is due before minAgeMs')
  assert.equal(s.due(2000).length, 2, 'at most checksPerRun per run')
  assert.equal(s.due(2000).length, 1)
  assert.equal(new SpotSampler({ sampleRate: 0 }).offer('p', fragment().cid), false)
})

it('the samples of a device that went offline are dropped (a restart may rightly lose unsynced puts); others stay', () => {
  const s = new SpotSampler({ sampleRate: 1, minAgeMs: 0 })
  for (const peer of ['a', 'b', 'a', 'c', 'a']) s.offer(peer, fragment().cid, 1000)
  assert.equal(s.forget('a'), 3)
  assert.equal(s.forget('a'), 0)
  assert.deepEqual(s.due(2000).map(x => x.peer), ['b', 'c'])
})

it('a device that acknowledges puts but drops the data is caught; an honest one passes; a fragment no longer referenced is no evidence', async (t) => {
  const swarmKey = generateSwarmKey()
  const writer = await createTestNode(t, { swarmKey, name: 'writer' })
  const honest = await createTestNode(t, { swarmKey, name: 'honest' })
  const liar = await createTestNode(t, { swarmKey, name: 'liar' })
  liar.store.put = async () => {} // acknowledges, keeps nothing
  await writer.node.dial(honest.node.multiaddrs()[0])
  await writer.node.dial(liar.node.multiaddrs()[0])
  await waitOnline(writer.node, honest.node)
  await waitOnline(writer.node, liar.node)
  const caught: string[] = []
  let referencedNow = true
  const checker = new SpotChecker({ sampleRate: 1, minAgeMs: 0, checksPerRun: 10 }, {
    fragments: writer.node.fragments,
    referenced: async (cids) => referencedNow ? cids : [],
    onLiar: (peer) => { caught.push(peer) },
    log: prefixLogger('writer').forComponent('palm:daemon:spot-check')
  })
  const fragments = checker.watch(writer.node.fragments)
  const liarId = liar.node.peerId.toString()
  const honestId = honest.node.peerId.toString()

  // Deleted since (no longer referenced): not counted against the device.
  referencedNow = false
  assert.ok((await fragments.putMany(liarId, [fragment()])).every(o => o.ok), 'the liar acknowledges')
  await checker.run()
  assert.deepEqual(caught, [])

  referencedNow = true
  assert.ok((await fragments.putMany(honestId, [fragment(), fragment()])).every(o => o.ok))
  assert.ok((await fragments.putMany(liarId, [fragment(), fragment()])).every(o => o.ok), 'the liar acknowledges')
  await fragments.put(honestId, fragment().cid, fragment().bytes).catch(() => {}) // a mismatched put is refused, never sampled
  await checker.run()
  assert.deepEqual(caught, [liarId], 'the liar is reported once')
  const stats = checker.stats()
  assert.equal(stats.liars.length, 1)
  assert.equal(stats.liars[0].id, liarId)
  assert.match(stats.liars[0].reason, /does not have a fragment it acknowledged/)
  assert.equal(stats.passed, 2, 'the honest device\'s fragments check out')
})

it('placement stops picking a distrusted device for good', async () => {
  const { DeviceStats } = await import('../../../src/place/device-stats.js')
  const stats = new DeviceStats()
  assert.equal(stats.healthy('liar'), true)
  stats.distrust('liar')
  stats.succeeded('liar', 10, 1)
  assert.equal(stats.healthy('liar'), false, 'a later success does not restore it')
  assert.equal(stats.healthy('other'), true)
})
