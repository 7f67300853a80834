/**
 * Codec id 1 through the wasm module (native/rs): the reference engine that made the golden vectors.
 * Its glue copies shards into and out of wasm memory, so results are copied once more into place.
 */
import { IoError } from '../errors.js'
import { loadReedSolomonWasm } from '../../native/rs/index.js'
import { CODEC_RS_GF256 } from './constants.js'
import { checkEncodeShards, checkReconstructShards, withAllocation } from './codec-checks.js'
import type { Codec } from './types.js'

const EMPTY = new Uint8Array(0)

function call<T> (what: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    // Input was checked, so a trap here is a bug in the module; never reuse the trapped instance.
    loadReedSolomonWasm({ fresh: true })
    throw new IoError(`the Reed-Solomon wasm codec failed during ${what}; it was reloaded, retry the operation`, { cause: err })
  }
}

function encodeInto (dataShards: Uint8Array[], parityShards: Uint8Array[]): void {
  checkEncodeShards(dataShards, parityShards)
  const k = dataShards.length
  const all = call('encode', () => loadReedSolomonWasm().encode(dataShards, parityShards.length))
  for (let p = 0; p < parityShards.length; p++) parityShards[p].set(all[k + p])
}

function reconstructDataInto (shards: Array<Uint8Array | undefined>, k: number, parityCount: number, dataOut: Array<Uint8Array | undefined>): void {
  const missing = checkReconstructShards(shards, k, parityCount, dataOut)
  if (missing.length === 0) return
  const dead: number[] = []
  const slots = shards.map((s, i) => {
    if (s !== undefined) return s
    dead.push(i)
    return EMPTY
  })
  const all = call('reconstruct', () => loadReedSolomonWasm().reconstruct(slots, parityCount, Uint32Array.from(dead)))
  for (const i of missing) (dataOut[i] as Uint8Array).set(all[i])
}

/** Reed-Solomon GF(2^8), codec id 1, computed by the reed-solomon-erasure wasm module. */
export const rsWasmCodec: Codec = withAllocation({
  id: CODEC_RS_GF256,
  name: 'reed-solomon-gf256 (wasm reed-solomon-erasure 0.2.2)',
  encodeInto,
  reconstructDataInto
})
