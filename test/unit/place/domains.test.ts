/** Failure domains in placement (placement.ts `domainSpread`): fewer than k fragments per declared domain. */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { domainSpread, planPlacement, type Candidate } from '../../../src/place/placement.js'

const dev = (id: string, domain?: string, self = false): Candidate => ({ id, freeBytes: 1 << 30, available: true, self, ...(domain != null ? { domain } : {}) })

function perDomain (devices: string[], cands: Candidate[]): Map<string, number> {
  const out = new Map<string, number>()
  for (const id of devices) {
    const c = cands.find(x => x.id === id) as Candidate
    const d = c.domain ?? c.id
    out.set(d, (out.get(d) ?? 0) + 1)
  }
  return out
}

it('three identities on one declared machine hold fewer than k fragments of any stripe together', () => {
  // k=2, n=3: one machine "box" runs three identities; two other machines, one device each.
  const cands = [dev('me', undefined, true), dev('box-1', 'box'), dev('box-2', 'box'), dev('box-3', 'box'), dev('other')]
  for (let s = 0; s < 200; s++) {
    const plan = planPlacement(`stripe-${s}`, { k: 2, n: 3 }, 1024, cands)
    assert.equal(plan.unplaced, 0)
    for (const [d, count] of perDomain(plan.devices, cands)) assert.ok(count < 2, `stripe-${s}: domain ${d} holds ${count} fragments (k = 2)`)
  }
  // Undeclared, the same identities are three devices: some stripe puts k fragments on the machine.
  const undeclared = cands.map(c => ({ ...c, domain: undefined }))
  const onBox = (devices: string[]): number => devices.filter(id => id.startsWith('box')).length
  assert.ok(Array.from({ length: 200 }, (_, s) => planPlacement(`stripe-${s}`, { k: 2, n: 3 }, 1024, undeclared).devices).some(d => onBox(d) >= 2))
})

it('domainSpread keeps one device per domain (this device in its own), and everything when too few domains remain', () => {
  const cands = [dev('a1', 'a'), dev('me', 'a', true), dev('b1', 'b'), dev('c1')]
  assert.deepEqual(domainSpread({ k: 2, n: 3 }, cands).map(c => c.id), ['me', 'b1', 'c1'])
  const two = [dev('a1', 'a'), dev('a2', 'a'), dev('b1', 'b')]
  assert.equal(domainSpread({ k: 2, n: 3 }, two), two, 'two domains cannot keep each below k = 2 of 3 fragments')
  const plain = [dev('x'), dev('y')]
  assert.equal(domainSpread({ k: 2, n: 3 }, plain), plain, 'no domain declared: unchanged')
})
