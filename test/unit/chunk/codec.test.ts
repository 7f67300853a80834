/**
 * The Reed-Solomon codec (id 1): the pure-JS engine and the wasm module give identical parity and
 * both rebuild from any k shards; bad input is an InvalidArgumentError and never reaches the wasm
 * module (which would trap).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CODEC_RS_GF256, codecById, decodeStripe, encodeStripe, reedSolomonCodec } from '../../../src/chunk/index.js'
import { loadReedSolomonWasm, reedSolomonWasmVersion, RS_WASM_VERSION } from '../../../native/rs/index.js'
import { SALT, assertSameBytes, bytesOf, expectError, randomSubsets } from './helpers.js'

const js = reedSolomonCodec('js')
const wasm = reedSolomonCodec('wasm')

describe('Reed-Solomon codec engines', () => {
  it('the installed wasm package is the pinned version', () => {
    assert.equal(reedSolomonWasmVersion(), RS_WASM_VERSION)
    assert.equal(typeof loadReedSolomonWasm().encode, 'function')
  })

  it('both engines carry codec id 1 and codecById finds it', () => {
    assert.equal(js.id, CODEC_RS_GF256)
    assert.equal(wasm.id, CODEC_RS_GF256)
    assert.equal(codecById(1, 'wasm'), wasm)
  })

  for (const [k, n] of [[1, 2], [1, 5], [2, 3], [3, 5], [4, 6], [10, 14], [16, 20], [17, 255], [128, 255], [254, 255]]) {
    it(`${k}+${n - k}: identical parity, rebuilds from random k-subsets`, () => {
      // The wasm module rebuilds its matrix on every call (about 0.6 s at k = 254): fewer cases for big k.
      const big = k > 100
      for (const len of big ? [5, 4099] : [1, 3, 4, 5, 1023, 4099]) {
        const data = Array.from({ length: k }, (_, i) => bytesOf(k * 7919 + i * 31 + len, len))
        const a = js.encode(data, n - k)
        const b = wasm.encode(data, n - k)
        for (let p = 0; p < n - k; p++) assertSameBytes(a[p], b[p], `parity ${p}, ${len} bytes`)
        if (k === 1) for (const p of a) assertSameBytes(p, data[0], 'k = 1 is replication')
        const all = [...data, ...a]
        for (const use of randomSubsets(n, k, big ? 2 : 4, len)) {
          const slots = all.map((s, i) => use.includes(i) ? s : undefined)
          for (const engine of [js, wasm]) {
            const got = engine.reconstructData(slots, k, n - k)
            for (let i = 0; i < k; i++) assertSameBytes(got[i], data[i], `${engine.name}: data ${i} from [${use.join(',')}]`)
          }
        }
      }
    })
  }

  it('the JS engine handles views at unaligned offsets', () => {
    const backing = bytesOf(3, 4 * 1001 + 3)
    const data = [0, 1, 2, 3].map(i => backing.subarray(1 + i * 1000, 1 + (i + 1) * 1000))
    const parity = [new Uint8Array(1001).subarray(1), new Uint8Array(1003).subarray(3)]
    js.encodeInto(data, parity)
    const ref = wasm.encode(data.map(d => new Uint8Array(d)), 2)
    assertSameBytes(parity[0], ref[0], 'parity 0')
    assertSameBytes(parity[1], ref[1], 'parity 1')
  })

  for (const engine of [js, wasm]) {
    it(`${engine.name}: bad input is InvalidArgumentError, and the engine still works after it`, async () => {
      const d = [new Uint8Array(4), new Uint8Array(4)]
      await expectError(() => engine.encode([], 1), 'InvalidArgumentError')
      await expectError(() => engine.encode(d, 0), 'InvalidArgumentError')
      await expectError(() => engine.encode([new Uint8Array(0), new Uint8Array(0)], 1), 'InvalidArgumentError')
      await expectError(() => engine.encode([new Uint8Array(4), new Uint8Array(3)], 1), 'InvalidArgumentError')
      await expectError(() => engine.encode(Array.from({ length: 200 }, () => new Uint8Array(1)), 56), 'InvalidArgumentError')
      await expectError(() => engine.reconstructData([d[0], undefined, undefined], 2, 1), 'InvalidArgumentError')
      await expectError(() => engine.reconstructData([d[0], undefined], 2, 1), 'InvalidArgumentError')
      await expectError(() => engine.reconstructData([d[0], undefined, new Uint8Array(5)], 2, 1), 'InvalidArgumentError')
      const p = engine.encode([Uint8Array.of(1, 2), Uint8Array.of(3, 4)], 2)
      assert.deepEqual([...p[0]], [5, 14])
      assert.deepEqual([...p[1]], [7, 8])
    })
  }

  it('a stripe encoded with one engine decodes with the other', () => {
    const stripe = bytesOf(11, 77_777)
    const e = encodeStripe(stripe, { k: 10, n: 14 }, SALT, wasm)
    const f = encodeStripe(stripe, { k: 10, n: 14 }, SALT, js)
    assert.equal(e.id, f.id)
    const frags = e.fragments.slice(4).map(x => ({ index: x.index, bytes: x.bytes }))
    assertSameBytes(decodeStripe(frags, { k: 10, n: 14, length: stripe.length }, SALT, js), stripe, 'wasm → js')
    assertSameBytes(decodeStripe(frags, { k: 10, n: 14, length: stripe.length }, SALT, wasm), stripe, 'wasm → wasm')
  })

  it('an unknown codec id is NotSupportedError; an invalid one InvalidArgumentError', async () => {
    await expectError(() => codecById(2), 'NotSupportedError')
    await expectError(() => decodeStripe([], { k: 1, n: 1, length: 0, codecId: 9 }, SALT), 'NotSupportedError')
    await expectError(() => decodeStripe([], { k: 1, n: 1, length: 0, codecId: 0 }, SALT), 'InvalidArgumentError')
    await expectError(() => decodeStripe([], { k: 1, n: 1, length: 0, codecId: 2 }, SALT, js), 'InvalidArgumentError')
  })
})
