/**
 * rebuildFragments (repair without opening the package): from any k fragments, the missing ones
 * come back byte-identical to what encodeStripe made; bad input is refused by name.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodeStripe, rebuildFragments } from '../../../src/chunk/index.js'
import { SALT, assertSameBytes, bytesOf, randomSubsets, subsets } from './helpers.js'

describe('rebuildFragments', () => {
  for (const [k, n, size] of [[1, 3, 5000], [2, 3, 0], [4, 6, 4096], [4, 6, 1_000_003], [10, 14, 300_001]]) {
    it(`${k}-of-${n}, ${size} bytes: every missing fragment from any k, byte-identical`, () => {
      const e = encodeStripe(bytesOf(size + k, size), { k, n }, SALT)
      const cids = e.fragments.map(f => f.cid.toString())
      const uses = n <= 6 ? subsets(n, k) : randomSubsets(n, k, 6, size).concat([Array.from({ length: k }, (_, i) => n - k + i)])
      for (const use of uses) {
        const wanted = e.fragments.map(f => f.index).filter(i => !use.includes(i))
        const out = rebuildFragments(use.map(i => ({ index: i, bytes: e.fragments[i].bytes })), { k, n, length: size, cids }, wanted)
        assert.deepEqual(out.map(f => f.index), wanted)
        for (const f of out) {
          assert.equal(f.cid.toString(), cids[f.index])
          assertSameBytes(f.bytes, e.fragments[f.index].bytes, `fragment ${f.index} from [${use.join(',')}]`)
        }
      }
    })
  }

  it('refuses too few fragments, a corrupt one, a missing CID list and a bad index, by name', () => {
    const e = encodeStripe(bytesOf(1, 9000), { k: 2, n: 4 }, SALT)
    const cids = e.fragments.map(f => f.cid.toString())
    const expect = { k: 2, n: 4, length: 9000, cids }
    assert.throws(() => rebuildFragments([{ index: 0, bytes: e.fragments[0].bytes }], expect, [3]), { name: 'FragmentsUnavailableError' })
    const corrupt = new Uint8Array(e.fragments[1].bytes)
    corrupt[100] ^= 1
    assert.throws(() => rebuildFragments([{ index: 0, bytes: e.fragments[0].bytes }, { index: 1, bytes: corrupt }], expect, [3]), (err: Error) => err.name === 'IntegrityError' && /fragment 1 does not match its CID/.test(err.message))
    assert.throws(() => rebuildFragments([0, 1].map(i => ({ index: i, bytes: e.fragments[i].bytes })), { k: 2, n: 4, length: 9000 }, [3]), { name: 'InvalidArgumentError' })
    assert.throws(() => rebuildFragments([0, 1].map(i => ({ index: i, bytes: e.fragments[i].bytes })), expect, [4]), { name: 'InvalidArgumentError' })
    // A manifest naming other CIDs for the wanted fragment: nothing is returned.
    const other = encodeStripe(bytesOf(2, 9000), { k: 2, n: 4 }, SALT)
    const mixed = [...cids.slice(0, 3), other.fragments[3].cid.toString()]
    assert.throws(() => rebuildFragments([0, 1].map(i => ({ index: i, bytes: e.fragments[i].bytes })), { ...expect, cids: mixed }, [3]), (err: Error) => err.name === 'IntegrityError' && /fragment 3 rebuilt/.test(err.message))
  })
})
