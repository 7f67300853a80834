/**
 * Codec id 1 in pure TypeScript: GF(2^8) table arithmetic straight into the caller's buffers (no
 * copies across a wasm boundary). Byte-identical to the wasm engine (test/unit/chunk/codec.test.ts).
 */
import { CODEC_RS_GF256 } from './constants.js'
import { encodingMatrix, matInvert } from './gf256.js'
import { alignedView, mulAdd } from './gf-tables.js'
import { checkEncodeShards, checkReconstructShards, withAllocation } from './codec-checks.js'
import type { Codec } from './types.js'

/** Most matrices (encoding per k/n, decoding per present set) cached per thread. */
const MAX_MATRICES = 64

const matrices = new Map<string, Uint8Array>()

function cachedMatrix (key: string, make: () => Uint8Array): Uint8Array {
  let m = matrices.get(key)
  if (m == null) {
    m = make()
    if (matrices.size >= MAX_MATRICES) {
      const oldest = matrices.keys().next().value
      if (oldest !== undefined) matrices.delete(oldest)
    }
    matrices.set(key, m)
  }
  return m
}

function encodingRows (k: number, n: number): Uint8Array {
  return cachedMatrix(`e${k}/${n}`, () => encodingMatrix(k, n))
}

/** out = Σ_j coef[j] · src[j] */
function combine (coef: Uint8Array, src: Uint8Array[], out: Uint8Array): void {
  const target = alignedView(out)
  for (let j = 0; j < src.length; j++) mulAdd(coef[j], src[j], target, j === 0)
  if (target !== out) out.set(target)
}

function encodeInto (dataShards: Uint8Array[], parityShards: Uint8Array[]): void {
  checkEncodeShards(dataShards, parityShards)
  const k = dataShards.length
  const n = k + parityShards.length
  const m = encodingRows(k, n)
  const src = dataShards.map(alignedView)
  for (let p = 0; p < parityShards.length; p++) combine(m.subarray((k + p) * k, (k + p + 1) * k), src, parityShards[p])
}

function reconstructDataInto (shards: Array<Uint8Array | undefined>, k: number, parityCount: number, dataOut: Array<Uint8Array | undefined>): void {
  const missing = checkReconstructShards(shards, k, parityCount, dataOut)
  if (missing.length === 0) return
  const n = k + parityCount
  // The first k present shards (data first): any k rows of the encoding matrix are independent.
  const use: number[] = []
  for (let i = 0; i < n && use.length < k; i++) if (shards[i] !== undefined) use.push(i)
  const decode = cachedMatrix(`d${k}/${n}:${use.join(',')}`, () => {
    const enc = encodingRows(k, n)
    const sub = new Uint8Array(k * k)
    use.forEach((row, r) => { sub.set(enc.subarray(row * k, (row + 1) * k), r * k) })
    return matInvert(sub, k)
  })
  const src = use.map(i => alignedView(shards[i] as Uint8Array))
  for (const i of missing) combine(decode.subarray(i * k, (i + 1) * k), src, dataOut[i] as Uint8Array)
}

/** Reed-Solomon GF(2^8), codec id 1, computed in JS. */
export const rsJsCodec: Codec = withAllocation({
  id: CODEC_RS_GF256,
  name: 'reed-solomon-gf256 (js tables)',
  encodeInto,
  reconstructDataInto
})
