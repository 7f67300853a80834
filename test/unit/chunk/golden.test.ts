/**
 * Golden vectors (fixtures/chunk/vectors.json, made by fixtures/chunk/make-vectors.ts with the wasm
 * engine): both engines reproduce every fragment byte for byte, the stored fragments decode, and the
 * damaged fragments give the recorded error. A failure here means the format changed.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { CODEC_RS_GF256, FORMAT_VERSION, decodeStripe, encodeStripe, reedSolomonCodec } from '../../../src/chunk/index.js'
import { GOLDEN_SALT, vectorStripe, type VectorFile } from '../../../fixtures/chunk/vector-spec.js'
import { assertSameBytes, expectError } from './helpers.js'

const file = JSON.parse(readFileSync(new URL('../../../../fixtures/chunk/vectors.json', import.meta.url), 'utf8')) as VectorFile
const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'))

describe('golden vectors', () => {
  it('are for this format version, codec and salt', () => {
    assert.equal(file.formatVersion, FORMAT_VERSION)
    assert.equal(file.codecId, CODEC_RS_GF256)
    assert.equal(file.saltHex, Buffer.from(GOLDEN_SALT).toString('hex'))
    assert.ok(file.vectors.length >= 10)
  })

  for (const v of file.vectors) {
    it(`${v.name}: reproduced byte for byte by both engines, and decodes`, () => {
      const stripe = vectorStripe(v)
      assert.equal(createHash('sha256').update(stripe).digest('hex'), v.stripeSha256, 'stripe input')
      for (const engine of ['js', 'wasm'] as const) {
        const e = encodeStripe(stripe, v, GOLDEN_SALT, reedSolomonCodec(engine))
        assert.equal(e.id, v.id, `${engine}: stripe id`)
        // A CID is the sha256 of the whole fragment, so equal CIDs are equal bytes.
        assert.deepEqual(e.fragments.map(f => f.cid.toString()), v.cids, `${engine}: fragment CIDs`)
        if (v.fragmentsHex != null) e.fragments.forEach((f, i) => { assertSameBytes(f.bytes, fromHex(v.fragmentsHex?.[i] ?? ''), `${engine}: fragment ${i}`) })
      }
      if (v.fragmentsHex != null) {
        const frags = v.fragmentsHex.map((h, index) => ({ index, bytes: fromHex(h) })).slice(v.n - v.k)
        assertSameBytes(decodeStripe(frags, { k: v.k, n: v.n, length: v.length, cids: v.cids }, GOLDEN_SALT), stripe, 'decoded')
      }
    })
  }

  for (const d of file.damaged) {
    it(`damaged fragment (${d.what}) gives ${d.error}`, async () => {
      const v = file.vectors.find(x => x.name === d.vector)
      assert.ok(v?.fragmentsHex != null, `vector ${d.vector}`)
      const frags = v.fragmentsHex.map((h, index) => ({ index, bytes: index === d.index ? fromHex(d.bytesHex) : fromHex(h) })).slice(0, v.k)
      await expectError(() => decodeStripe(frags, { k: v.k, n: v.n, length: v.length }, GOLDEN_SALT), d.error)
      await expectError(() => decodeStripe(frags, { k: v.k, n: v.n, length: v.length, cids: v.cids }, GOLDEN_SALT), d.error)
    })
  }
})
