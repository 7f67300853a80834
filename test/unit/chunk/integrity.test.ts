/**
 * Integrity: a flipped bit anywhere in any fragment gives IntegrityError or the right stripe from
 * the other fragments, never wrong bytes. Also wrong k/n, wrong length, wrong salt, fragments of two
 * stripes or of two format versions mixed, truncation, too few fragments and bad arguments.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FragmentsUnavailableError } from '../../../src/errors.js'
import { FORMAT_V1_SHA256, FORMAT_V2_BLAKE3, MAX_STRIPE_SIZE_BYTES, decodeStripe, encodeStripe, parseFragmentHeader, verifyFragment, type EncodedStripe } from '../../../src/chunk/index.js'
import { BLAKE3_CODE, SHA256_CODE, cidOf } from '../../../src/util/cid.js'
import { OTHER_SALT, SALT, assertSameBytes, bytesOf, expectError } from './helpers.js'

type Frag = { index: number, bytes: Uint8Array }
const all = (e: EncodedStripe): Frag[] => e.fragments.map(f => ({ index: f.index, bytes: f.bytes }))

function flipped (f: Frag, bit: number): Frag {
  const bytes = new Uint8Array(f.bytes)
  bytes[bit >> 3] ^= 1 << (bit & 7)
  return { index: f.index, bytes }
}

describe('integrity', () => {
  it('one flipped bit in any position of any fragment: IntegrityError or the right stripe', () => {
    const stripe = bytesOf(1, 40)
    const k = 2
    const n = 3
    const e = encodeStripe(stripe, { k, n }, SALT)
    const expect = { k, n, length: stripe.length }
    const cids = e.fragments.map(f => f.cid.toString())
    const outcomes = { integrity: 0, recovered: 0 }
    for (let target = 0; target < n; target++) {
      for (let bit = 0; bit < e.fragments[target].bytes.length * 8; bit++) {
        const frags = all(e).map(f => f.index === target ? flipped(f, bit) : f)
        // Exactly k fragments including the bad one: it must be caught.
        const used = frags.filter(f => f.index === target || f.index === (target + 1) % n)
        for (const withCids of [false, true]) {
          try {
            decodeStripe(used, withCids ? { ...expect, cids } : expect, SALT)
            assert.fail(`flip of bit ${bit} in fragment ${target} went unnoticed (cids: ${withCids})`)
          } catch (err) {
            assert.equal((err as Error).name, 'IntegrityError', (err as Error).message)
            outcomes.integrity++
          }
        }
        // All n: the other fragments rebuild the stripe, with or without CIDs.
        for (const withCids of [false, true]) {
          const out = decodeStripe(frags, withCids ? { ...expect, cids } : expect, SALT)
          assertSameBytes(out, stripe, `bit ${bit} of fragment ${target}`)
          outcomes.recovered++
        }
      }
    }
    assert.ok(outcomes.integrity > 0 && outcomes.recovered > 0)
  })

  it('names the bad fragment by index', async () => {
    const stripe = bytesOf(2, 1000)
    const e = encodeStripe(stripe, { k: 4, n: 6 }, SALT)
    const cids = e.fragments.map(f => f.cid.toString())
    const frags = all(e).slice(0, 4)
    frags[2] = flipped(frags[2], 8 * 100)
    const err = await expectError<{ details: { bad: Array<{ index: number }> } }>(() => decodeStripe(frags, { k: 4, n: 6, length: 1000, cids }, SALT), 'IntegrityError')
    assert.deepEqual(err.details.bad.map(b => b.index), [2])
    assert.match(err.message, /fragment 2/)
  })

  it('wrong k/n, length or codec in the expectation: IntegrityError', async () => {
    const stripe = bytesOf(3, 500)
    const e = encodeStripe(stripe, { k: 4, n: 6 }, SALT)
    await expectError(() => decodeStripe(all(e), { k: 3, n: 6, length: 500 }, SALT), 'IntegrityError')
    await expectError(() => decodeStripe(all(e).slice(0, 5), { k: 4, n: 5, length: 500 }, SALT), 'IntegrityError')
    await expectError(() => decodeStripe(all(e), { k: 4, n: 6, length: 499 }, SALT), 'IntegrityError')
  })

  it('a fragment passed under another index: IntegrityError', async () => {
    const e = encodeStripe(bytesOf(4, 300), { k: 2, n: 3 }, SALT)
    await expectError(() => decodeStripe([{ index: 0, bytes: e.fragments[1].bytes }, { index: 1, bytes: e.fragments[0].bytes }], { k: 2, n: 3, length: 300 }, SALT), 'IntegrityError')
  })

  it('the wrong salt: IntegrityError', async () => {
    const e = encodeStripe(bytesOf(5, 3000), { k: 4, n: 6 }, SALT)
    await expectError(() => decodeStripe(all(e), { k: 4, n: 6, length: 3000 }, OTHER_SALT), 'IntegrityError')
    const cids = e.fragments.map(f => f.cid)
    await expectError(() => decodeStripe(all(e).slice(2), { k: 4, n: 6, length: 3000, cids }, OTHER_SALT), 'IntegrityError')
  })

  it('fragments of two stripes mixed: IntegrityError, or the stripe when enough of one are present', async () => {
    const a = bytesOf(6, 2000)
    const b = bytesOf(7, 2000)
    const ea = encodeStripe(a, { k: 4, n: 6 }, SALT)
    const eb = encodeStripe(b, { k: 4, n: 6 }, SALT)
    const mixed = [...all(ea).slice(0, 2), ...all(eb).slice(2, 4)]
    await expectError(() => decodeStripe(mixed, { k: 4, n: 6, length: 2000 }, SALT), 'IntegrityError')
    const err = await expectError<{ details: { bad: Array<{ index: number }> } }>(
      () => decodeStripe(mixed, { k: 4, n: 6, length: 2000, cids: ea.fragments.map(f => f.cid) }, SALT), 'IntegrityError')
    assert.deepEqual(err.details.bad.map(x => x.index), [2, 3])
    // Five of a and one of b: the spare lets the decoder leave the foreign one out.
    const mostlyA = [...all(ea).slice(0, 3), all(eb)[3], ...all(ea).slice(4)]
    assertSameBytes(decodeStripe(mostlyA, { k: 4, n: 6, length: 2000 }, SALT), a, 'a despite one fragment of b')
  })

  it('fragments of two format versions: never mixed into one stripe', async () => {
    const stripe = bytesOf(10, 3000)
    const v1 = encodeStripe(stripe, { k: 2, n: 3 }, SALT, undefined, FORMAT_V1_SHA256)
    const v2 = encodeStripe(stripe, { k: 2, n: 3 }, SALT)
    assert.notEqual(v1.id, v2.id)
    assertSameBytes(decodeStripe(all(v1).slice(1), { k: 2, n: 3, length: 3000, cids: v1.fragments.map(f => f.cid) }, SALT), stripe, 'version 1 by its CIDs')
    const mixed = [all(v1)[0], all(v2)[1]]
    for (const cids of [undefined, v1.fragments.map(f => f.cid), v2.fragments.map(f => f.cid)]) {
      await expectError(() => decodeStripe(mixed, { k: 2, n: 3, length: 3000, cids }, SALT), 'IntegrityError')
    }
    // A version-1 fragment relabelled version 2 (and named so) is refused by verify: its CID's hash says 1.
    const relabelled = new Uint8Array(v1.fragments[0].bytes)
    relabelled[4] = FORMAT_V2_BLAKE3
    await expectError(() => verifyFragment(cidOf(relabelled, SHA256_CODE), relabelled), 'IntegrityError')
    assert.equal(verifyFragment(cidOf(relabelled, BLAKE3_CODE), relabelled).version, FORMAT_V2_BLAKE3)
    await expectError(() => decodeStripe([], { k: 2, n: 3, length: 3000, cids: [...v1.fragments.slice(0, 2), v2.fragments[2]].map(f => f.cid) }, SALT), 'IntegrityError')
    // Without CIDs, the version most fragments say wins, wherever the stray one is in the list.
    const stray = all(v1)[0]
    for (const order of [[stray, ...all(v2).slice(1)], [...all(v2).slice(1), stray]]) {
      assertSameBytes(decodeStripe(order, { k: 2, n: 3, length: 3000 }, SALT), stripe, 'version 2 despite a version-1 fragment')
    }
  })

  it('fewer than k fragments: FragmentsUnavailableError with found/needed', async () => {
    const e = encodeStripe(bytesOf(8, 100), { k: 4, n: 6 }, SALT)
    const err = await expectError<FragmentsUnavailableError>(() => decodeStripe(all(e).slice(0, 3), { k: 4, n: 6, length: 100 }, SALT), 'FragmentsUnavailableError')
    assert.equal(err.code, 'EIO')
    assert.equal(err.found, 3)
    assert.equal(err.needed, 4)
    await expectError(() => decodeStripe([], { k: 4, n: 6, length: 100 }, SALT), 'FragmentsUnavailableError')
  })

  it('truncated, extended and non-fragment bytes: IntegrityError from verify, parse and decode', async () => {
    const e = encodeStripe(bytesOf(9, 700), { k: 2, n: 3 }, SALT)
    const f = e.fragments[0]
    const cut = f.bytes.subarray(0, f.bytes.length - 1)
    await expectError(() => parseFragmentHeader(cut), 'IntegrityError')
    await expectError(() => parseFragmentHeader(Buffer.concat([f.bytes, Uint8Array.of(0)])), 'IntegrityError')
    await expectError(() => parseFragmentHeader(new Uint8Array(10)), 'IntegrityError')
    await expectError(() => parseFragmentHeader(new TextEncoder().encode('hello, this is not a fragment')), 'IntegrityError')
    await expectError(() => verifyFragment(f.cid, cut), 'IntegrityError')
    await expectError(() => verifyFragment(e.fragments[1].cid, f.bytes), 'IntegrityError')
    await expectError(() => verifyFragment('not a cid', f.bytes), 'InvalidArgumentError')
    assert.equal(verifyFragment(f.cid.toString(), f.bytes).index, 0)
    await expectError(() => decodeStripe([{ index: 0, bytes: cut }, { index: 1, bytes: e.fragments[1].bytes }], { k: 2, n: 3, length: 700 }, SALT), 'IntegrityError')
  })

  it('bad arguments: InvalidArgumentError', async () => {
    const s = new Uint8Array(10)
    for (const policy of [{ k: 0, n: 1 }, { k: 3, n: 2 }, { k: 1, n: 256 }, { k: 1.5, n: 3 }, { k: -1, n: 3 }, { k: Number.NaN, n: 3 }]) {
      await expectError(() => encodeStripe(s, policy, SALT), 'InvalidArgumentError')
      await expectError(() => decodeStripe([], { ...policy, length: 10 }, SALT), 'InvalidArgumentError')
    }
    await expectError(() => encodeStripe(s, { k: 1, n: 1 }, new Uint8Array(15)), 'InvalidArgumentError')
    await expectError(() => encodeStripe(s, { k: 1, n: 1 }, new Uint8Array(65)), 'InvalidArgumentError')
    await expectError(() => encodeStripe(new Uint8Array(MAX_STRIPE_SIZE_BYTES + 1), { k: 1, n: 1 }, SALT), 'InvalidArgumentError')
    await expectError(() => encodeStripe('text' as unknown as Uint8Array, { k: 1, n: 1 }, SALT), 'InvalidArgumentError')
    await expectError(() => decodeStripe([], { k: 1, n: 1, length: -1 }, SALT), 'InvalidArgumentError')
    await expectError(() => decodeStripe([], { k: 1, n: 1, length: 1, cids: [] }, SALT), 'InvalidArgumentError')
    const e = encodeStripe(s, { k: 1, n: 2 }, SALT)
    await expectError(() => decodeStripe([{ index: 2, bytes: e.fragments[0].bytes }], { k: 1, n: 2, length: 10 }, SALT), 'InvalidArgumentError')
    await expectError(() => decodeStripe(all(e).concat(all(e)), { k: 1, n: 2, length: 10 }, SALT), 'InvalidArgumentError')
  })
})
