/**
 * rebuildFragments: any k fragments of a stripe → the fragments of other indexes, byte-identical to
 * what encodeStripe made, without opening the package. Repair needs only the missing fragments; a
 * decode (AONT open: AES-CTR and two SHA-256 passes over the stripe) followed by a full re-encode
 * (the same again, n shards and n CIDs) would rebuild all of them to keep one. Here the k fragments
 * are checked against their CIDs, the data shards that are missing are reconstructed (Reed-Solomon,
 * systematic: data shards are the package's pieces), the parity shards come from the data shards,
 * and each rebuilt fragment must hash to the CID the manifest names, or nothing is returned.
 * Fewer than k fragments still reveal nothing: the output is made from k, as a decode is.
 */
import { FragmentsUnavailableError, IntegrityError, InvalidArgumentError } from '../errors.js'
import { cidOf } from '../util/cid.js'
import { codecById } from './codec.js'
import { HEADER_LENGTH_BYTES } from './constants.js'
import { checkExpectation, describe, triage, type IndexedFragment } from './decode.js'
import { fragmentLengthFor, shardLengthFor, writeHeader } from './header.js'
import { hashCodeOf } from './version.js'
import type { Codec, Fragment, StripeExpectation } from './types.js'

/**
 * The fragments `wanted` (indexes) of the stripe `expect` describes, rebuilt from any k of
 * `fragments`. `expect.cids` is required: it is what the rebuilt fragments are checked against.
 * `verified`: indexes the caller already hashed to their CIDs. Throws FragmentsUnavailableError
 * with fewer than k usable fragments, IntegrityError when a rebuilt fragment does not match its CID
 * (then the manifest does not describe these fragments), InvalidArgumentError for bad input.
 */
export function rebuildFragments (fragments: IndexedFragment[], expect: StripeExpectation, wanted: number[], codec?: Codec, verified?: ReadonlySet<number>): Fragment[] {
  const e = checkExpectation(expect)
  const cids = e.cids
  if (cids == null) throw new InvalidArgumentError('rebuilding fragments needs the stripe\'s fragment CIDs (expect.cids) to check them against')
  if (codec != null && codec.id !== e.codecId) throw new InvalidArgumentError(`codec ${codec.id} (${codec.name}) cannot rebuild fragments of codec ${e.codecId}`)
  for (const i of wanted) {
    if (!Number.isInteger(i) || i < 0 || i >= e.n) throw new InvalidArgumentError(`fragment index ${String(i)} to rebuild is not in 0 … ${e.n - 1}`)
  }
  const use = codec ?? codecById(e.codecId)
  const { shards, bad } = triage(fragments, e, verified)
  if (shards.size < e.k) {
    if (bad.length > 0) throw new IntegrityError(`only ${shards.size} of the ${e.k} fragments needed are intact: ${describe(bad)}; fetch those fragments again from other peers`, { details: { bad, found: shards.size, needed: e.k } })
    throw new FragmentsUnavailableError(`rebuilding fragments of a ${e.k}-of-${e.n} stripe needs ${e.k} fragments, only ${shards.size} were given`, { found: shards.size, needed: e.k })
  }
  // The CIDs gave the version (checkExpectation): rebuilt fragments are of the stripe's own version.
  const version = e.version ?? NaN
  const code = hashCodeOf(version)
  const size = shardLengthFor(e.length, e.k)
  const chosen = [...shards.keys()].sort((a, b) => a - b).slice(0, e.k)
  const slots: Array<Uint8Array | undefined> = new Array(e.n).fill(undefined)
  for (const i of chosen) slots[i] = shards.get(i)
  // The data shards: given, or reconstructed into fresh buffers.
  const data: Array<Uint8Array | undefined> = slots.slice(0, e.k)
  const out: Array<Uint8Array | undefined> = []
  for (let i = 0; i < e.k; i++) if (data[i] === undefined) out[i] = data[i] = new Uint8Array(size)
  if (out.length > 0) use.reconstructDataInto(slots, e.k, e.n - e.k, out)
  const parity = wanted.some(i => i >= e.k) ? Array.from({ length: e.n - e.k }, () => new Uint8Array(size)) : []
  if (parity.length > 0) use.encodeInto(data as Uint8Array[], parity)
  return [...new Set(wanted)].sort((a, b) => a - b).map(index => {
    const bytes = new Uint8Array(fragmentLengthFor(e.length, e.k))
    writeHeader(bytes, { version, codecId: e.codecId, k: e.k, n: e.n, index, stripeLength: e.length })
    bytes.set(index < e.k ? data[index] as Uint8Array : parity[index - e.k], HEADER_LENGTH_BYTES)
    const cid = cidOf(bytes, code)
    const want = cids[index].toString()
    if (cid.toString() !== want) {
      throw new IntegrityError(`fragment ${index} rebuilt from fragments ${chosen.join(', ')} (each matching its CID) does not match its CID ${want}: the manifest does not describe this stripe`, { details: { index, indexes: chosen } })
    }
    return { index, cid, bytes }
  })
}
