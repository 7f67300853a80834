/**
 * Golden vectors, one file per fragment format version (fixtures/chunk/vectors.json for version 1,
 * vectors-v2.json for version 2; made by fixtures/chunk/make-vectors.ts with the wasm engine): both
 * engines reproduce every fragment byte for byte, the stored fragments decode (old versions stay
 * readable), and the damaged fragments give the recorded error. A failure here means the format changed.
 */
import assert from 'node:assert/strict'
import { createCipheriv, createHash } from 'node:crypto'
import { blake3 as blake3Js } from '@noble/hashes/blake3.js'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { CODEC_RS_GF256, FORMAT_V1_SHA256, FORMAT_V2_BLAKE3, FORMAT_VERSION, decodeStripe, encodeStripe, rebuildFragments, reedSolomonCodec } from '../../../src/chunk/index.js'
import { CID } from '../../../src/util/cid.js'
import { BLAKE3_CODE, SHA256_CODE } from '../../../src/util/digest.js'
import { GOLDEN_SALT, vectorFileOf, vectorStripe, type VectorFile } from '../../../fixtures/chunk/vector-spec.js'
import { assertSameBytes, expectError } from './helpers.js'

const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'))
const load = (version: number): VectorFile => JSON.parse(readFileSync(new URL(`../../../../fixtures/chunk/${vectorFileOf(version)}`, import.meta.url), 'utf8')) as VectorFile

it('new stripes are written in format version 2, named by BLAKE3', () => {
  assert.equal(FORMAT_VERSION, FORMAT_V2_BLAKE3)
  const e = encodeStripe(new Uint8Array(100), { k: 2, n: 3 }, GOLDEN_SALT)
  for (const f of e.fragments) {
    assert.equal(f.bytes[4], FORMAT_V2_BLAKE3)
    assert.equal(f.cid.multihash.code, BLAKE3_CODE)
  }
})

it('version 2 is CAONT-RS with BLAKE3, recomputed here apart from src/chunk (data fragments and CIDs)', () => {
  const file = load(FORMAT_V2_BLAKE3)
  for (const v of file.vectors.filter(x => x.fragmentsHex != null)) {
    const stripe = vectorStripe(v)
    const size = Math.ceil((v.length + 32) / v.k)
    const h = blake3Js(Buffer.concat([GOLDEN_SALT, stripe]))
    const c = createCipheriv('aes-256-ctr', h, Buffer.alloc(16)).update(Buffer.concat([stripe, Buffer.alloc(v.k * size - 32 - v.length)]))
    const t = blake3Js(c).map((b, i) => b ^ h[i])
    const pkg = Buffer.concat([c, t])
    for (let i = 0; i < v.k; i++) {
      const header = Buffer.alloc(16)
      header.set([0x50, 0x4c, 0x4d, 0x46, FORMAT_V2_BLAKE3, CODEC_RS_GF256, v.k, v.n, i])
      header.writeUInt32BE(v.length, 12)
      const fragment = Buffer.concat([header, pkg.subarray(i * size, (i + 1) * size)])
      assert.equal(fragment.toString('hex'), v.fragmentsHex?.[i], `${v.name}: data fragment ${i}`)
    }
    for (let i = 0; i < v.n; i++) {
      const f = fromHex(v.fragmentsHex?.[i] ?? '')
      assert.deepEqual(Buffer.from(CID.parse(v.cids[i]).multihash.digest), Buffer.from(blake3Js(f)), `${v.name}: CID ${i} is the BLAKE3 of its fragment`)
    }
  }
})

for (const [version, hashCode] of [[FORMAT_V1_SHA256, SHA256_CODE], [FORMAT_V2_BLAKE3, BLAKE3_CODE]]) describe(`golden vectors of format version ${version}`, () => {
  const file = load(version)
  it('are for this format version, codec and salt', () => {
    assert.equal(file.formatVersion, version)
    for (const v of file.vectors) for (const c of v.cids) assert.equal(CID.parse(c).multihash.code, hashCode, `${v.name}: CIDs name the version's hash`)
    assert.equal(file.codecId, CODEC_RS_GF256)
    assert.equal(file.saltHex, Buffer.from(GOLDEN_SALT).toString('hex'))
    assert.ok(file.vectors.length >= 10)
  })

  for (const v of file.vectors) {
    it(`${v.name}: reproduced byte for byte by both engines, and decodes`, () => {
      const stripe = vectorStripe(v)
      assert.equal(createHash('sha256').update(stripe).digest('hex'), v.stripeSha256, 'stripe input')
      for (const engine of ['js', 'wasm'] as const) {
        const e = encodeStripe(stripe, v, GOLDEN_SALT, reedSolomonCodec(engine), version)
        assert.equal(e.id, v.id, `${engine}: stripe id`)
        // A CID is the hash of the whole fragment, so equal CIDs are equal bytes.
        assert.deepEqual(e.fragments.map(f => f.cid.toString()), v.cids, `${engine}: fragment CIDs`)
        if (v.fragmentsHex != null) e.fragments.forEach((f, i) => { assertSameBytes(f.bytes, fromHex(v.fragmentsHex?.[i] ?? ''), `${engine}: fragment ${i}`) })
      }
      if (v.fragmentsHex != null) {
        const frags = v.fragmentsHex.map((h, index) => ({ index, bytes: fromHex(h) })).slice(v.n - v.k)
        assertSameBytes(decodeStripe(frags, { k: v.k, n: v.n, length: v.length, cids: v.cids }, GOLDEN_SALT), stripe, 'decoded')
        // Repair of a stripe of this version rebuilds its lost fragments in the same version.
        const lost = Array.from({ length: v.n - v.k }, (_, i) => i)
        const rebuilt = rebuildFragments(frags, { k: v.k, n: v.n, length: v.length, cids: v.cids }, lost)
        rebuilt.forEach(f => { assertSameBytes(f.bytes, fromHex(v.fragmentsHex?.[f.index] ?? ''), `rebuilt fragment ${f.index}`) })
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
