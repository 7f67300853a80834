/**
 * The fragment hashes (src/util/digest.ts) against published vectors, and the CIDs built on them:
 * BLAKE3's from the reference test_vectors.json (input byte i = i mod 251), SHA-256's from FIPS 180-2.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { it } from 'node:test'
import { blake3 as blake3Js } from '@noble/hashes/blake3.js'
import { BLAKE3_CODE, SHA256_CODE, blake3Engine, digestFor, hasherFor } from '../../../src/util/digest.js'
import { cidOf, matchesCid, matchesCidAsync } from '../../../src/util/cid.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const pattern = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i % 251)

it('BLAKE3 and SHA-256 give the published digests, one-shot and piecewise, on shared memory too', () => {
  const vectors: Array<[number, number, string]> = [
    [BLAKE3_CODE, 0, 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262'],
    [BLAKE3_CODE, 1, '2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213'],
    [BLAKE3_CODE, 1024, '42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7'],
    [BLAKE3_CODE, 1025, 'd00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444'],
    [BLAKE3_CODE, 102400, 'bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085']
  ]
  for (const [code, length, want] of vectors) {
    const input = pattern(length)
    assert.equal(hex(digestFor(code, input)), want, `blake3 of ${length} bytes`)
    const shared = new Uint8Array(new SharedArrayBuffer(length + 7)).subarray(7)
    shared.set(input)
    assert.equal(hex(digestFor(code, shared)), want, `blake3 of ${length} bytes in shared memory`)
    const h = hasherFor(code)
    for (let at = 0; at < length; at += 1000) h.update(input.subarray(at, at + 1000))
    assert.equal(hex(h.digest()), want, `blake3 of ${length} bytes in pieces`)
    // The fallback where no native binary exists for the platform gives the same digests.
    assert.equal(hex(blake3Js(input)), want, `@noble/hashes' blake3 of ${length} bytes`)
  }
  // The npm registry has the binary for x64 Linux with glibc (this project's machines).
  if (process.platform === 'linux' && process.arch === 'x64' && process.env.PALM_BLAKE3 !== 'js') assert.equal(blake3Engine(), 'native')
  assert.equal(hex(digestFor(SHA256_CODE, new TextEncoder().encode('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  assert.throws(() => digestFor(0x13, new Uint8Array(1)), RangeError)
})

it('the JS fallback (PALM_BLAKE3=js) gives the same digests through digestFor and hasherFor', () => {
  const script = `
    const { digestFor, hasherFor, blake3Engine, BLAKE3_CODE } = await import(${JSON.stringify(new URL('../../../src/util/digest.js', import.meta.url).href)})
    const pattern = n => Uint8Array.from({ length: n }, (_, i) => i % 251)
    const hex = b => Buffer.from(b).toString('hex')
    const out = { engine: blake3Engine() }
    for (const n of [0, 1, 1024, 1025, 102400]) {
      const h = hasherFor(BLAKE3_CODE)
      for (let at = 0; at < n; at += 1000) h.update(pattern(n).subarray(at, at + 1000))
      out[n] = [hex(digestFor(BLAKE3_CODE, pattern(n))), hex(h.digest())]
    }
    console.log(JSON.stringify(out))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, PALM_BLAKE3: 'js' }, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  const got = JSON.parse(r.stdout) as Record<string, unknown>
  assert.equal(got.engine, 'js')
  for (const n of [0, 1, 1024, 1025, 102400]) {
    const native = hex(digestFor(BLAKE3_CODE, pattern(n)))
    assert.deepEqual(got[n], [native, native], `${n} bytes`)
  }
})

it('a CID names its hash, and only the bytes it was made of match it', async () => {
  const bytes = pattern(200_000)
  for (const code of [BLAKE3_CODE, SHA256_CODE]) {
    const cid = cidOf(bytes, code)
    assert.equal(cid.multihash.code, code)
    assert.equal(matchesCid(cid, bytes), true)
    assert.equal(await matchesCidAsync(cid, bytes), true)
    const other = new Uint8Array(bytes)
    other[123_456] ^= 1
    assert.equal(matchesCid(cid, other), false)
    assert.equal(await matchesCidAsync(cid, other), false)
  }
  assert.equal(cidOf(bytes).multihash.code, BLAKE3_CODE, 'new fragments are named by BLAKE3')
})
