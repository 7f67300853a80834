/**
 * Argument checks shared by the codec engines (the wasm module traps on bad input, so nothing
 * unchecked may reach it), and the allocating forms of a codec derived from its zero-copy forms.
 */
import { InvalidArgumentError } from '../errors.js'
import { MAX_FRAGMENTS } from './constants.js'
import type { Codec } from './types.js'

function sameLength (shards: Array<Uint8Array | undefined>, len: number, what: string): void {
  for (const s of shards) {
    if (s !== undefined && s.length !== len) throw new InvalidArgumentError(`${what}: shards must all be ${len} bytes, one is ${s.length}`)
  }
}

/** Checks encode input; throws InvalidArgumentError. */
export function checkEncodeShards (dataShards: Uint8Array[], parityShards: Uint8Array[]): void {
  const k = dataShards.length
  const n = k + parityShards.length
  if (k < 1 || parityShards.length < 1 || n > MAX_FRAGMENTS) {
    throw new InvalidArgumentError(`Reed-Solomon encode needs 1 ≤ data shards, 1 ≤ parity shards and a total ≤ ${MAX_FRAGMENTS}; got ${k} + ${parityShards.length}`)
  }
  const len = dataShards[0].length
  if (len < 1) throw new InvalidArgumentError('Reed-Solomon encode: shards must not be empty')
  sameLength(dataShards, len, 'Reed-Solomon encode')
  sameLength(parityShards, len, 'Reed-Solomon encode (parity buffers)')
}

/** Checks reconstruct input; returns the missing data indexes. Throws InvalidArgumentError. */
export function checkReconstructShards (shards: Array<Uint8Array | undefined>, k: number, parityCount: number, dataOut: Array<Uint8Array | undefined>): number[] {
  const n = k + parityCount
  if (!Number.isInteger(k) || !Number.isInteger(parityCount) || k < 1 || parityCount < 0 || n > MAX_FRAGMENTS || shards.length !== n) {
    throw new InvalidArgumentError(`Reed-Solomon reconstruct needs ${n} shard slots for k=${k} + ${parityCount} parity (n ≤ ${MAX_FRAGMENTS}); got ${shards.length}`)
  }
  const present = shards.filter(s => s !== undefined)
  if (present.length < k) throw new InvalidArgumentError(`Reed-Solomon reconstruct needs ${k} shards, got ${present.length}`)
  const len = (present[0] as Uint8Array).length
  if (len < 1) throw new InvalidArgumentError('Reed-Solomon reconstruct: shards must not be empty')
  sameLength(shards, len, 'Reed-Solomon reconstruct')
  const missing: number[] = []
  for (let i = 0; i < k; i++) {
    if (shards[i] !== undefined) continue
    if (dataOut[i]?.length !== len) throw new InvalidArgumentError(`Reed-Solomon reconstruct: no ${len}-byte output buffer for missing data shard ${i}`)
    missing.push(i)
  }
  return missing
}

/** A full Codec from its zero-copy forms: `encode` and `reconstructData` allocate their results. */
export function withAllocation (c: Pick<Codec, 'id' | 'name' | 'encodeInto' | 'reconstructDataInto'>): Codec {
  return {
    ...c,
    encode (dataShards, parityCount) {
      const len = dataShards[0]?.length ?? 0
      const parity = Array.from({ length: parityCount }, () => new Uint8Array(len))
      c.encodeInto(dataShards, parity)
      return parity
    },
    reconstructData (shards, k, parityCount) {
      const len = shards.find(s => s !== undefined)?.length ?? 0
      const out = shards.slice(0, k).map(s => s === undefined ? new Uint8Array(len) : undefined)
      c.reconstructDataInto(shards, k, parityCount, out)
      return out.map((o, i) => o ?? (shards[i] as Uint8Array))
    }
  }
}
