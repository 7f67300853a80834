/**
 * The small-swarm rule (src/place/keeper.ts): a stripe is never less available than on one device
 * alone. Either no device holds more than n − k of its fragments, or the writer holds k.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { layoutOk, loadOf, lossesSurvivable, moveToKeeper, planPlacement, preferKeeper, survivesOneLoss, type Candidate } from '../../../src/place/index.js'

const GiB = 2 ** 30
const FRAG = 1024 * 1024

function devices (count: number, free = GiB): Candidate[] {
  return Array.from({ length: count }, (_, i) => ({ id: `dev${i}`, freeBytes: free, available: true, self: i === 0 }))
}

const stripeIds = (count: number): string[] => Array.from({ length: count }, (_, i) => `stripe-${i}`)

describe('small swarms (keeper rule)', () => {
  it('4-of-6 on 2 devices: the writer keeps 4, the other holds 2 (it used to be 3 and 3: neither device could be lost)', () => {
    for (const id of stripeIds(200)) {
      const load = loadOf(planPlacement(id, { k: 4, n: 6 }, FRAG, devices(2)).devices)
      assert.equal(load.get('dev0'), 4, id)
      assert.equal(load.get('dev1'), 2, id)
      // Readable whenever the writer is, and the other device alone cannot read it.
      assert.ok(layoutOk(load, { k: 4, n: 6 }, 'dev0'))
    }
  })

  it('2-of-3 on 2 devices: the writer always holds 2', () => {
    for (const id of stripeIds(200)) {
      const load = loadOf(planPlacement(id, { k: 2, n: 3 }, FRAG, devices(2)).devices)
      assert.deepEqual([load.get('dev0'), load.get('dev1')], [2, 1], id)
    }
  })

  it('with enough devices nothing changes: every layout survives one loss and no device holds k', () => {
    for (const count of [3, 4, 6, 9]) {
      for (const id of stripeIds(100)) {
        const load = loadOf(planPlacement(id, { k: 4, n: 6 }, FRAG, devices(count)).devices)
        assert.ok(survivesOneLoss(load, { k: 4, n: 6 }), `${count} devices, ${id}: ${[...load.values()].join(',')}`)
        assert.ok(Math.max(...load.values()) < 4)
      }
    }
  })

  it('3 devices with one offline: stored now on the writer (4) and the other (2); two fragments queued for the third', () => {
    for (const id of stripeIds(100)) {
      const ds = devices(3)
      ds[2].available = false
      const plan = planPlacement(id, { k: 4, n: 6 }, FRAG, ds)
      const load = loadOf(plan.devices)
      assert.equal(load.get('dev0'), 4, id)
      assert.equal(load.get('dev1'), 2, id)
      assert.deepEqual([...plan.queued.values()], ['dev2', 'dev2'])
    }
  })

  it('a writer without room for k leaves the plan as it is; ENOSPC cases stay ENOSPC', () => {
    const ds = devices(2)
    ds[0].freeBytes = 3 * FRAG
    const load = loadOf(planPlacement('s', { k: 4, n: 6 }, FRAG, ds).devices)
    assert.deepEqual([load.get('dev0'), load.get('dev1')], [3, 3])
    const full = devices(6, FRAG / 2)
    full[5].freeBytes = GiB
    assert.equal(planPlacement('s', { k: 4, n: 6 }, FRAG, full).unplaced, 3)
  })

  it('moveToKeeper takes from the most loaded device; preferKeeper overrides a fallback that would break the rule', () => {
    const layout = ['a', 'a', 'a', 'b', 'b', 'b']
    assert.deepEqual(moveToKeeper(layout, { k: 4, n: 6 }, 'a', 10), [5])
    assert.deepEqual(layout, ['a', 'a', 'a', 'b', 'b', 'a'])
    assert.deepEqual(moveToKeeper(['a', 'b', 'c', 'a', 'b', 'c'], { k: 4, n: 6 }, 'a', 10), [], 'survives one loss already')
    assert.deepEqual(moveToKeeper(['a', 'a', 'a', 'b', 'b', 'b'], { k: 4, n: 6 }, 'a', 3), [], 'no room for k')
    // A fallback to b would make 3 + 3: the keeper takes it.
    assert.equal(preferKeeper('b', new Map([['a', 3], ['b', 2]]), { k: 4, n: 6 }, 'a', 10), 'a')
    // 6 devices: a fallback that keeps the stripe surviving one loss stays.
    assert.equal(preferKeeper('c', new Map([['a', 1], ['b', 2], ['c', 1], ['d', 1]]), { k: 4, n: 6 }, 'a', 10), 'c')
    // No fallback left at all: the keeper, while it holds fewer than k.
    assert.equal(preferKeeper(undefined, new Map([['a', 3], ['b', 2]]), { k: 4, n: 6 }, 'a', 10), 'a')
    assert.equal(preferKeeper(undefined, new Map([['a', 4], ['b', 1]]), { k: 4, n: 6 }, 'a', 10), undefined)
  })

  it('lossesSurvivable: worst case drops the fullest devices first', () => {
    assert.equal(lossesSurvivable(new Map([['a', 3], ['b', 3]]), { k: 4, n: 6 }), 0)
    assert.equal(lossesSurvivable(new Map([['a', 4], ['b', 2]]), { k: 4, n: 6 }), 0)
    assert.equal(lossesSurvivable(new Map([['a', 2], ['b', 2], ['c', 2]]), { k: 4, n: 6 }), 1)
    assert.equal(lossesSurvivable(new Map(['a', 'b', 'c', 'd', 'e', 'f'].map(d => [d, 1])), { k: 4, n: 6 }), 2)
    assert.equal(lossesSurvivable(new Map([['a', 6]]), { k: 4, n: 6 }), 0)
  })
})
