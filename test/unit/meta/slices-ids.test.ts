/**
 * Stripe ids are convergent (equal bytes, equal id: one page written twice is one slice id), so a
 * stripe may carry two slices of one id at different offsets, or a slice with its base's id. Every
 * part of that id is the same fragments: a `holders` op (repair) naming it must update them all,
 * or the others keep stale holders and repair finds them below n for ever. Real SQLite journals.
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { ROOT_INO, type SliceRef } from '../../../src/meta/types.js'
import { assertConverged, devices, FILE, send, stripe } from './merge-helpers.js'

const page = (off: number): SliceRef => ({ off, length: 4, id: 'sl-p', k: 1, n: 1, codecId: 1, fragments: ['cid-p'], holders: [['A']] })

it('a holders op naming a slice id updates every slice of that id in the stripe', async (t) => {
  const [a, b] = await devices(t, 2)
  const f = await a.create(ROOT_INO, 'f', FILE)
  await a.setContent(f.ino, { size: 64, stripeSize: 64, stripes: [stripe(0, 64, 'x')] })
  await a.setContent(f.ino, { size: 64, stripeSize: 64, stripes: [], addSlices: [{ index: 0, over: 'st-x', seen: 0, slices: [page(0), page(32)] }] })
  await a.setHolders(f.ino, 0, 'sl-p', [[0, 'cid-p', ['B']]])
  const [st] = await a.getStripes(f.ino, 0, 1)
  assert.deepEqual(st.slices?.map(x => `${x.off}:${x.holders.join()}`), ['0:B', '32:B'])
  await send(a, b)
  await assertConverged([a, b])
})
