/**
 * Round trips: every size class and policy the issue names; decoding from every k-subset for small
 * n and from random k-subsets (always including the all-parity worst case) for large n.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_STRIPE_SIZE_BYTES, decodeStripe, encodeStripe, parseFragmentHeader, stripeIdOf, verifyFragment, type EncodedStripe } from '../../../src/chunk/index.js'
import { SALT, OTHER_SALT, assertSameBytes, bytesOf, choose, prng, randomSubsets, subsets } from './helpers.js'

const POLICIES = [[1, 1], [1, 3], [2, 3], [4, 6], [10, 14], [16, 20]]

function pick (e: EncodedStripe, indexes: number[]): Array<{ index: number, bytes: Uint8Array }> {
  return indexes.map(i => ({ index: i, bytes: e.fragments[i].bytes }))
}

function subsetsFor (n: number, k: number, seed: number, big: boolean): number[][] {
  if (big) return randomSubsets(n, k, 3, seed).concat([Array.from({ length: k }, (_, i) => i)])
  return choose(n, k) <= 64 ? subsets(n, k) : randomSubsets(n, k, 24, seed)
}

describe('chunk round trip', () => {
  const next = prng(7)
  for (const [k, n] of POLICIES) {
    const sizes = [0, 1, k - 1, k, 1 + Math.floor(next() * 300_000), DEFAULT_STRIPE_SIZE_BYTES]
    for (const size of [...new Set(sizes)]) {
      it(`${k}-of-${n}, ${size} bytes`, () => {
        const stripe = bytesOf(k * 1000 + size, size)
        const e = encodeStripe(stripe, { k, n }, SALT)
        assert.equal(e.fragments.length, n)
        assert.equal(e.length, size)
        assert.equal(e.id, stripeIdOf(e.fragments.map(f => f.cid)))
        for (const f of e.fragments) {
          const h = verifyFragment(f.cid, f.bytes)
          assert.deepEqual({ k: h.k, n: h.n, index: h.index, len: h.stripeLength }, { k, n, index: f.index, len: size })
          assert.deepEqual(parseFragmentHeader(f.bytes), h)
        }
        const cids = e.fragments.map(f => f.cid.toString())
        for (const use of subsetsFor(n, k, size + n, size === DEFAULT_STRIPE_SIZE_BYTES)) {
          const out = decodeStripe(pick(e, use), { k, n, length: size, cids }, SALT)
          assertSameBytes(out, stripe, `decode from [${use.join(',')}]`)
        }
      })
    }
  }

  it('is convergent: same stripe and salt give identical fragments; another salt gives unrelated ones', () => {
    const stripe = bytesOf(99, 50_000)
    const a = encodeStripe(stripe, { k: 4, n: 6 }, SALT)
    const b = encodeStripe(new Uint8Array(stripe), { k: 4, n: 6 }, new Uint8Array(SALT))
    assert.equal(a.id, b.id)
    assert.deepEqual(a.fragments.map(f => f.cid.toString()), b.fragments.map(f => f.cid.toString()))
    const c = encodeStripe(stripe, { k: 4, n: 6 }, OTHER_SALT)
    assert.notEqual(a.id, c.id)
    for (let i = 0; i < 6; i++) {
      const x = a.fragments[i].bytes
      const y = c.fragments[i].bytes
      let same = 0
      for (let j = 16; j < x.length; j++) if (x[j] === y[j]) same++
      // Unrelated bytes agree about 1 time in 256.
      assert.ok(same < (x.length - 16) / 64, `fragment ${i}: ${same} equal bytes under another salt`)
    }
  })

  it('leaves the stripe untouched and returns a buffer of its own', () => {
    const stripe = bytesOf(5, 10_000)
    const copy = new Uint8Array(stripe)
    const e = encodeStripe(stripe, { k: 2, n: 3 }, SALT)
    assertSameBytes(stripe, copy, 'stripe after encode')
    const out = decodeStripe(pick(e, [0, 1]), { k: 2, n: 3, length: stripe.length }, SALT)
    out.fill(0)
    assertSameBytes(stripe, copy, 'stripe after the output was overwritten')
  })

  it('decodes into a buffer the caller gives, of exactly the stripe\'s size', () => {
    const stripe = bytesOf(6, 10_000)
    const e = encodeStripe(stripe, { k: 2, n: 3 }, SALT)
    const into = new Uint8Array(stripe.length).fill(0xEE)
    const out = decodeStripe(pick(e, [1, 2]), { k: 2, n: 3, length: stripe.length }, SALT, undefined, undefined, into)
    assert.equal(out, into, 'the buffer given is the one returned')
    assertSameBytes(into, stripe, 'decoded into it')
    assert.throws(() => decodeStripe(pick(e, [0, 1]), { k: 2, n: 3, length: stripe.length }, SALT, undefined, undefined, new Uint8Array(9_999)), { name: 'InvalidArgumentError' })
  })

  it('decodes with spare fragments given, in any order', () => {
    const stripe = bytesOf(6, 12_345)
    const e = encodeStripe(stripe, { k: 4, n: 6 }, SALT)
    const out = decodeStripe(pick(e, [5, 2, 0, 4, 3]), { k: 4, n: 6, length: stripe.length }, SALT)
    assertSameBytes(out, stripe, 'decode from 5 shuffled fragments')
  })
})
