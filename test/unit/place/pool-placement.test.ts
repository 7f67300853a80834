/**
 * Placement, rendezvous hashing and usable capacity: pure functions, checked over many stripes.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pickFallback, planPlacement, rank, stripeCap, usableBytes, type Candidate } from '../../../src/place/index.js'

const GiB = 2 ** 30
const FRAG = 1024 * 1024

function devices (count: number, free = GiB): Candidate[] {
  return Array.from({ length: count }, (_, i) => ({ id: `dev${i}`, freeBytes: free, available: true, self: i === 0 }))
}

function counts (ids: string[]): Map<string, number> {
  const m = new Map<string, number>()
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1)
  return m
}

const stripeIds = (count: number): string[] => Array.from({ length: count }, (_, i) => `stripe-${i}`)

describe('placement', () => {
  it('puts the n fragments on n distinct devices, the writer always among them', () => {
    for (const id of stripeIds(300)) {
      const plan = planPlacement(id, { k: 4, n: 6 }, FRAG, devices(9))
      assert.equal(plan.unplaced, 0)
      assert.equal(new Set(plan.devices).size, 6, `stripe ${id}: ${plan.devices.join(',')}`)
      assert.ok(plan.devices.includes('dev0'))
      assert.equal(plan.queued.size, 0)
    }
  })

  it('with fewer devices than n spreads evenly: 3 devices with 4-of-6 hold 2 each, 4 devices hold 2,2,1,1', () => {
    for (const id of stripeIds(200)) {
      const three = counts(planPlacement(id, { k: 4, n: 6 }, FRAG, devices(3)).devices)
      assert.deepEqual([...three.values()].sort(), [2, 2, 2])
      const four = counts(planPlacement(id, { k: 4, n: 6 }, FRAG, devices(4)).devices)
      assert.deepEqual([...four.values()].sort(), [1, 1, 2, 2])
      assert.ok(Math.max(...four.values()) < 4)
    }
  })

  it('a lone device holds all n fragments', () => {
    const plan = planPlacement('s', { k: 4, n: 6 }, FRAG, devices(1))
    assert.deepEqual(plan.devices, Array(6).fill('dev0'))
    assert.equal(plan.queued.size, 0)
  })

  it('fragments meant for offline devices double up on the least loaded online ones and are queued for them', () => {
    for (const id of stripeIds(200)) {
      const ds = devices(6)
      ds[4].available = false
      ds[5].available = false
      const plan = planPlacement(id, { k: 4, n: 6 }, FRAG, ds)
      const c = counts(plan.devices)
      assert.equal(c.size, 4, 'all four online devices hold fragments')
      assert.deepEqual([...c.values()].sort(), [1, 1, 2, 2])
      assert.ok(!plan.devices.includes('dev4') && !plan.devices.includes('dev5'))
      assert.deepEqual([...plan.queued.values()].sort(), ['dev4', 'dev5'])
      for (const [index, target] of plan.queued) assert.notEqual(plan.devices[index], target)
    }
  })

  it('an offline device is replaced by the next online one when there are enough (nothing queued)', () => {
    const ds = devices(8)
    ds[3].available = false
    for (const id of stripeIds(100)) {
      const plan = planPlacement(id, { k: 4, n: 6 }, FRAG, ds)
      assert.equal(new Set(plan.devices).size, 6)
      assert.ok(!plan.devices.includes('dev3'))
      assert.equal(plan.queued.size, 0)
    }
  })

  it('leaves out full devices, honours each device\'s room, and reports what cannot be placed', () => {
    const ds = devices(6)
    ds[2].freeBytes = FRAG - 1
    ds[3].freeBytes = FRAG
    for (const id of stripeIds(100)) {
      const plan = planPlacement(id, { k: 4, n: 6 }, FRAG, ds)
      assert.equal(plan.unplaced, 0)
      const c = counts(plan.devices)
      assert.equal(c.get('dev2'), undefined, 'a full device got a fragment')
      assert.ok((c.get('dev3') ?? 0) <= 1, 'a device with room for one got more')
    }
    const full = devices(3, FRAG)
    assert.equal(planPlacement('s', { k: 4, n: 6 }, FRAG, full).unplaced, 3)
  })

  it('caps a device at k − 1 fragments of a stripe when the swarm allows, all n when alone', () => {
    assert.equal(stripeCap({ k: 4, n: 6 }, 6), 3)
    assert.equal(stripeCap({ k: 4, n: 6 }, 2), 3)
    assert.equal(stripeCap({ k: 4, n: 6 }, 1), 6)
    assert.equal(stripeCap({ k: 2, n: 3 }, 2), 2)
    assert.equal(stripeCap({ k: 1, n: 3 }, 3), 1)
    // 6 devices, 5 of them full: the sixth may not take the whole stripe.
    const ds = devices(6, FRAG / 2)
    ds[5].freeBytes = GiB
    assert.equal(planPlacement('s', { k: 4, n: 6 }, FRAG, ds).unplaced, 3)
  })

  it('ranks devices by free space: a device with 4× the room is first about 4× as often', () => {
    const ds = devices(5)
    ds[4].freeBytes = 4 * GiB
    const first = counts(stripeIds(4000).map(id => rank(id, ds.map(d => ({ ...d, weight: d.freeBytes })))[0].id))
    const heavy = first.get('dev4') ?? 0
    const light = ((first.get('dev1') ?? 0) + (first.get('dev2') ?? 0) + (first.get('dev3') ?? 0)) / 3
    assert.ok(heavy > 2.5 * light && heavy < 6 * light, `heavy ${heavy}, light ${light}`)
  })

  it('is stable: taking one device away moves only the stripes that had it', () => {
    const all = devices(10)
    const less = all.filter(d => d.id !== 'dev7')
    for (const id of stripeIds(300)) {
      const before = planPlacement(id, { k: 4, n: 6 }, FRAG, all).devices
      const after = planPlacement(id, { k: 4, n: 6 }, FRAG, less).devices
      if (!before.includes('dev7')) assert.deepEqual(new Set(after), new Set(before), id)
      else assert.equal([...new Set(after)].filter(d => !before.includes(d)).length, 1)
    }
  })

  it('a fallback prefers a device holding none of the stripe, else the least loaded', () => {
    const ds = devices(7)
    const load = new Map([['dev0', 1], ['dev1', 1], ['dev2', 1], ['dev3', 1], ['dev4', 1], ['dev5', 1]])
    assert.equal(pickFallback('s', FRAG, ds, load, new Set(['dev5']), 3), 'dev6')
    load.set('dev6', 1)
    load.set('dev1', 2)
    const next = pickFallback('s', FRAG, ds, load, new Set(['dev5']), 3)
    assert.ok(next != null && next !== 'dev1' && next !== 'dev5')
    assert.equal(pickFallback('s', FRAG, ds, new Map(ds.map(d => [d.id, 3])), new Set(), 3), undefined, 'past the cap')
    assert.equal(pickFallback('s', FRAG, devices(2, FRAG), new Map([['dev0', 1], ['dev1', 1]]), new Set(), 3), undefined, 'no room')
  })
})

describe('usable capacity', () => {
  it('is free × k/n for equal devices, alone or many', () => {
    assert.equal(usableBytes([6000], { k: 4, n: 6 }), 4000)
    assert.equal(usableBytes(Array(6).fill(6000), { k: 4, n: 6 }), 24_000)
    assert.equal(usableBytes(Array(12).fill(6000), { k: 4, n: 6 }), 48_000)
    assert.equal(usableBytes([], { k: 4, n: 6 }), 0)
  })

  it('is bounded by what placement can use: one huge device does not count in full', () => {
    // 5 small devices of 1000 and one of 1e9, 4-of-6: one fragment per device per stripe until the
    // small ones are full; then the big one alone may not take a whole stripe (at most k − 1).
    assert.equal(usableBytes([1000, 1000, 1000, 1000, 1000, 1e9], { k: 4, n: 6 }), 4000)
    // 3 devices, 2 fragments each per stripe; when the small one is full the other two take 3 each
    // (k − 1) until they are full too: everything is usable.
    assert.equal(usableBytes([1000, 5000, 5000], { k: 4, n: 6 }), Math.floor(11_000 * 4 / 6))
    // A lone device holds all n of every stripe.
    assert.equal(usableBytes([1000, 0, 0], { k: 4, n: 6 }), 0)
  })
})
