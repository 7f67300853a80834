/**
 * The pure core of repair (src/repair/plan.ts): device states with the grace, one responsible
 * device per stripe that moves on when it goes, what a stripe needs (at k: everything not online,
 * at once; above: only what gone devices or bad copies lost), margin order, and targets that keep
 * the failure-domain rule.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Candidate } from '../../../src/place/index.js'
import { countMargin, deviceStates, pickTargets, planStripe, responsibleFor, type DeviceState, type MarginCounts } from '../../../src/repair/plan.js'

const DEVICES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']

function stripe (id: string, holders: string[][], k = 4): { id: string, k: number, n: number, length: number, fragments: string[], holders: string[][] } {
  return { id, k, n: holders.length, length: 1000, fragments: holders.map((_, i) => `${id}-${i}`), holders }
}

function states (entries: Record<string, DeviceState>): Map<string, DeviceState> {
  return new Map(Object.entries(entries))
}

const allOnline = (ids: string[]): Record<string, DeviceState> => Object.fromEntries(ids.map(id => [id, 'online' as DeviceState]))

describe('repair plan', () => {
  it('a device is in grace until the grace passes (counted from this device\'s start too), then gone', () => {
    const now = 1_000_000
    const peers = [
      { id: 'up', online: true, lastSeenMs: now },
      { id: 'nap', online: false, lastSeenMs: now - 5_000 },
      { id: 'dead', online: false, lastSeenMs: now - 20_000 },
      { id: 'never', online: false, lastSeenMs: 0 }
    ]
    const s = deviceStates('me', peers, ['stranger'], { nowMs: now, startedMs: now - 60_000, graceMs: 10_000 })
    assert.deepEqual(Object.fromEntries(s), { up: 'online', nap: 'grace', dead: 'gone', never: 'gone', stranger: 'gone', me: 'online' })
    // Just started: nobody is gone before a whole grace has passed here.
    const fresh = deviceStates('me', peers, ['stranger'], { nowMs: now, startedMs: now - 1_000, graceMs: 10_000 })
    assert.deepEqual([...fresh].filter(([, v]) => v === 'gone'), [])
    // A blip shorter than settleMs counts as online (no urgent repair for a loaded machine's hiccup).
    const settled = deviceStates('me', peers, [], { nowMs: now, startedMs: now - 60_000, graceMs: 10_000, settleMs: 6_000 })
    assert.equal(settled.get('nap'), 'online')
    assert.equal(settled.get('dead'), 'gone')
    // Just started or woken from a suspension: everyone counts as online until settleMs passed here.
    const woke = deviceStates('me', peers, [], { nowMs: now, startedMs: now - 1_000, graceMs: 10_000, settleMs: 6_000 })
    assert.deepEqual([...woke.values()].filter(v => v !== 'online'), [])
    // Declared gone: at once, even online.
    const declared = deviceStates('me', peers, [], { nowMs: now, startedMs: now - 60_000, graceMs: 10_000, declaredGone: new Set(['up']) })
    assert.equal(declared.get('up'), 'gone')
  })

  it('gives each stripe one responsible device, spread over the devices, and moves only the dead one\'s stripes', () => {
    const ids = Array.from({ length: 600 }, (_, i) => `stripe-${i}`)
    const before = ids.map(id => responsibleFor(id, DEVICES))
    const share = new Map<string, number>()
    for (const d of before) share.set(d as string, (share.get(d as string) ?? 0) + 1)
    for (const d of DEVICES) assert.ok((share.get(d) ?? 0) > 600 / 8 / 2, `device ${d} is responsible for a fair share (${share.get(d)})`)
    const after = ids.map(id => responsibleFor(id, DEVICES.filter(d => d !== 'c')))
    ids.forEach((_, i) => {
      if (before[i] !== 'c') assert.equal(after[i], before[i], 'a stripe whose device lives keeps it')
      else assert.notEqual(after[i], 'c')
    })
  })

  it('plans nothing for a device in grace above k, everything not online at k, and lost fragments of gone devices', () => {
    const s = stripe('s', [['a'], ['b'], ['c'], ['d'], ['e'], ['f']])
    // One in grace: margin 1, the spreader will catch it up: nothing to do.
    assert.deepEqual(planStripe(s, 'a', states({ ...allOnline(['a', 'b', 'c', 'd', 'e']), f: 'grace' })).place, [])
    // Two in grace: at k, rebuilt at once.
    const atK = planStripe(s, 'a', states({ ...allOnline(['a', 'b', 'c', 'd']), e: 'grace', f: 'grace' }))
    assert.equal(atK.margin, 0)
    assert.deepEqual(atK.place, [4, 5])
    // The devices in their grace stay listed after the new holders: back, they count again.
    assert.deepEqual([...atK.waitingFor], [[4, ['e']], [5, ['f']]])
    // One gone, one in grace (margin 0 too).
    const gone = planStripe(s, 'a', states({ ...allOnline(['a', 'b', 'c', 'd', 'e']), f: 'gone' }))
    assert.equal(gone.margin, 1)
    assert.deepEqual(gone.place, [5])
    // Below k: unreadable now, nothing can be done.
    assert.deepEqual(planStripe(s, 'a', states({ ...allOnline(['a', 'b', 'c']), d: 'gone', e: 'gone', f: 'gone' })).place, [])
  })

  it('treats bad copies as absent, and moves a fragment doubled up for a gone device', () => {
    const s = stripe('s', [['a'], ['b'], ['c'], ['d'], ['e'], ['f']])
    const all = states(allOnline(['a', 'b', 'c', 'd', 'e', 'f']))
    const p = planStripe(s, 'a', all, new Set(['2 c']))
    assert.deepEqual(p.place, [2])
    assert.equal(p.margin, 1)
    // Fragment 5 sits on e for f (the spread target), and f is gone: e holds two.
    const doubled = stripe('t', [['a'], ['b'], ['c'], ['d'], ['e'], ['e', 'f']])
    assert.deepEqual(planStripe(doubled, 'a', states({ ...allOnline(['a', 'b', 'c', 'd', 'e', 'g']), f: 'gone' })).place, [5])
    // With f in grace, the spreader will copy it: nothing to do.
    assert.deepEqual(planStripe(doubled, 'a', states({ ...allOnline(['a', 'b', 'c', 'd', 'e', 'g']), f: 'grace' })).place, [])
  })

  it('orders margins: stripes at k before stripes at k + 1 before the rest', () => {
    const st = states({ ...allOnline(['a', 'b', 'c', 'd', 'g', 'h']), e: 'gone', f: 'gone' })
    const plans = [
      stripe('two-lost', [['a'], ['b'], ['c'], ['d'], ['e'], ['f']]),
      stripe('one-lost', [['a'], ['b'], ['c'], ['d'], ['e'], ['g']]),
      stripe('eight', [['a'], ['b'], ['c'], ['d'], ['g'], ['h'], ['e'], ['f']], 2)
    ].map(s => ({ s, p: planStripe(s, 'a', st) }))
    const order = plans.sort((x, y) => x.p.margin - y.p.margin).map(x => x.s.id)
    assert.deepEqual(order, ['two-lost', 'one-lost', 'eight'])
    const counts: MarginCounts = { atK: 0, atK1: 0, more: 0, unreadable: 0 }
    for (const { s, p } of plans) countMargin(counts, s, p)
    assert.deepEqual(counts, { atK: 1, atK1: 1, more: 1, unreadable: 0 })
  })

  it('small swarms: a rebuild on too few devices lets this device keep k; a keeper holding k rebuilds nothing for a device that only sleeps', () => {
    const cand = (ids: string[]): Candidate[] => ids.map(id => ({ id, freeBytes: 1e9, available: true, self: id === 'a' }))
    // 2 + 2 + 2 on three devices, c gone: 3 + 3 on a and b would survive neither's loss.
    const s = stripe('s', [['a'], ['b'], ['c'], ['a'], ['b'], ['c']])
    const p = planStripe(s, 'a', states({ ...allOnline(['a', 'b']), c: 'gone' }))
    assert.deepEqual(p.place, [2, 5])
    const t = pickTargets(s, p, 1000, cand(['a', 'b']))
    assert.deepEqual([...t.values()], ['a', 'a'])
    // The writer's layout (4 + 2), b asleep past settle: margin 0, but a reads it alone: nothing to copy.
    const kept = stripe('k', [['a'], ['a'], ['a'], ['a'], ['b'], ['b']])
    const asleep = planStripe(kept, 'a', states({ a: 'online', b: 'grace' }))
    assert.equal(asleep.margin, 0)
    assert.deepEqual(asleep.place, [])
    // b gone for good: its two are rebuilt (on a, the only device left).
    assert.deepEqual(planStripe(kept, 'a', states({ a: 'online', b: 'gone' })).place, [4, 5])
  })

  it('places rebuilt fragments on devices holding none of the stripe, and doubles up only when none is left', () => {
    const cand = (ids: string[]): Candidate[] => ids.map(id => ({ id, freeBytes: 1e9, available: true, self: id === 'a' }))
    const s = stripe('s', [['a'], ['b'], ['c'], ['d'], ['e'], ['f']])
    const st = states({ ...allOnline(['a', 'b', 'c', 'd', 'g', 'h']), e: 'gone', f: 'gone' })
    const p = planStripe(s, 'a', st)
    const t = pickTargets(s, p, 1000, cand(['a', 'b', 'c', 'd', 'g', 'h']))
    assert.deepEqual([...t.values()].sort(), ['g', 'h'])
    // Only 5 devices left for 6 fragments: one device takes two (cap k − 1 = 3 respected), no device is used twice while another is free.
    const t2 = pickTargets(s, p, 1000, cand(['a', 'b', 'c', 'd', 'g']))
    assert.equal(t2.size, 2)
    assert.ok([...t2.values()].includes('g'))
  })
})
