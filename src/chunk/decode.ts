/**
 * decodeStripe: any k fragments → the stripe, or a typed error; never wrong bytes. Every fragment is
 * checked on its own first (CID when the manifest gives one, then header against the expectation),
 * so a bad one is named by index. The stripe's own hash check then catches whatever got through.
 */
import { FragmentsUnavailableError, IntegrityError, InvalidArgumentError, NotSupportedError } from '../errors.js'
import { matchesCid, type CID } from '../util/cid.js'
import { openPackage } from './caont.js'
import { codecById } from './codec.js'
import { DEFAULT_CODEC_ID, FORMAT_VERSION, HEADER_LENGTH_BYTES } from './constants.js'
import { parseFragmentHeader, shardLengthFor } from './header.js'
import { checkCodecId, checkPolicy, checkSalt, checkStripeLength, toCid } from './validate.js'
import { hashCodeOf, versionOfCid } from './version.js'
import type { Codec, StripeExpectation } from './types.js'

/** One fragment handed to decodeStripe: its index in the stripe and its whole bytes. */
export interface IndexedFragment {
  index: number
  bytes: Uint8Array
}

/**
 * A checked expectation. `version`: the fragment format version its CIDs name (their hash); without
 * CIDs, undefined until triage takes it from the fragments.
 */
export interface Expect { k: number, n: number, length: number, codecId: number, cids?: CID[], version?: number }

export function checkExpectation (expect: StripeExpectation): Expect {
  checkPolicy(expect, 'expected stripe')
  checkStripeLength(expect.length)
  const codecId = expect.codecId ?? DEFAULT_CODEC_ID
  checkCodecId(codecId)
  let cids: CID[] | undefined
  if (expect.cids != null) {
    if (expect.cids.length !== expect.n) throw new InvalidArgumentError(`expected stripe lists ${expect.cids.length} fragment CIDs for n=${expect.n}`)
    cids = expect.cids.map((c, i) => toCid(c, `CID of fragment ${i}`))
  }
  const versions = new Set(cids?.map(versionOfCid))
  if (versions.has(undefined)) {
    const code = cids?.find(c => versionOfCid(c) === undefined)?.multihash.code ?? 0
    throw new NotSupportedError(`the stripe's fragment CIDs use a hash this palm does not know (multihash 0x${code.toString(16)}; it knows sha2-256 and blake3); upgrade palm to read it`, { details: { hashCode: code } })
  }
  if (versions.size > 1) throw new IntegrityError('the stripe\'s fragment CIDs mix two format versions (sha2-256 and blake3), which no stripe has: its journal entry is damaged')
  const version = versions.size === 1 ? [...versions][0] : undefined
  return { k: expect.k, n: expect.n, length: expect.length, codecId, cids, version }
}

/** Why this fragment cannot be used, or undefined when it fits the expectation. */
function problemOf (f: IndexedFragment, e: Expect, verified?: ReadonlySet<number>): string | undefined {
  const cid = e.cids?.[f.index]
  if (cid != null && verified?.has(f.index) !== true && !matchesCid(cid, f.bytes)) return `does not match its CID ${cid.toString()}`
  let h
  try {
    h = parseFragmentHeader(f.bytes, `fragment ${f.index}`)
  } catch (err) {
    return (err as Error).message
  }
  if (h.index !== f.index) return `says it is fragment ${h.index}`
  if (h.k !== e.k || h.n !== e.n) return `belongs to a ${h.k}-of-${h.n} stripe, not ${e.k}-of-${e.n}`
  if (h.stripeLength !== e.length) return `belongs to a stripe of ${h.stripeLength} bytes, not ${e.length}`
  if (h.codecId !== e.codecId) return `uses codec ${h.codecId}, not ${e.codecId}`
  if (e.version != null && h.version !== e.version) return `is format version ${h.version}, the stripe's is ${e.version}`
  return undefined
}

/**
 * Without CIDs, the stripe's version is the one most of the fragments that otherwise fit say
 * (FORMAT_VERSION on a tie): a stray fragment of the other version is then set aside as bad,
 * whichever place it has in the list. Undefined when none fits.
 */
function versionByCount (fragments: IndexedFragment[], e: Expect): number | undefined {
  const counts = new Map<number, number>()
  for (const f of fragments) {
    if (!(f?.bytes instanceof Uint8Array) || problemOf(f, e) !== undefined) continue
    const v = f.bytes[4]
    counts.set(v, (counts.get(v) ?? 0) + 1)
  }
  let best: number | undefined
  for (const [v, c] of counts) {
    const b = best === undefined ? 0 : counts.get(best) ?? 0
    if (c > b || (c === b && v === FORMAT_VERSION)) best = v
  }
  return best
}

/**
 * Sorts the given fragments into usable shards (by index) and named rejects. Sets `e.version`
 * from the fragments when the CIDs did not give it (versionByCount; none usable: it stays undefined).
 */
export function triage (fragments: IndexedFragment[], e: Expect, verified?: ReadonlySet<number>): { shards: Map<number, Uint8Array>, bad: Array<{ index: number, reason: string }> } {
  if (!Array.isArray(fragments)) throw new InvalidArgumentError('fragments must be an array of { index, bytes }')
  if (e.cids == null) e.version ??= versionByCount(fragments, e)
  const shards = new Map<number, Uint8Array>()
  const bad: Array<{ index: number, reason: string }> = []
  const seen = new Set<number>()
  for (const f of fragments) {
    if (!Number.isInteger(f?.index) || f.index < 0 || f.index >= e.n) throw new InvalidArgumentError(`fragment index ${String(f?.index)} is not in 0 … ${e.n - 1}`)
    if (!(f.bytes instanceof Uint8Array)) throw new InvalidArgumentError(`fragment ${f.index} has no bytes`)
    if (seen.has(f.index)) throw new InvalidArgumentError(`fragment ${f.index} is given twice`)
    seen.add(f.index)
    const reason = problemOf(f, e, verified)
    if (reason === undefined) shards.set(f.index, f.bytes.subarray(HEADER_LENGTH_BYTES))
    else bad.push({ index: f.index, reason })
  }
  return { shards, bad }
}

/**
 * The package is rebuilt in this thread's one scratch buffer (grown to the largest package seen,
 * at most a stripe's k shards): openPackage returns a buffer of its own, so the package never
 * leaves `attempt`. A fresh 4 MiB package per decode was 1,024 fresh pages to fault in.
 */
let scratch = new Uint8Array(0)

function packageBuffer (bytes: number): Uint8Array {
  if (scratch.length < bytes) scratch = new Uint8Array(bytes)
  return scratch.subarray(0, bytes)
}

/** Rebuilds the package from the fragments `use` (k indexes) and opens it; undefined if it fails the check. */
function attempt (use: number[], shards: Map<number, Uint8Array>, e: Expect, salt: Uint8Array, codec: Codec, into?: Uint8Array): Uint8Array | undefined {
  // triage set the version when it found a usable shard; attempts only run with k of them.
  const code = hashCodeOf(e.version ?? NaN)
  const size = shardLengthFor(e.length, e.k)
  // Every byte is written below: a data shard is copied in or rebuilt whole.
  const pkg = packageBuffer(e.k * size)
  const slots: Array<Uint8Array | undefined> = new Array(e.n).fill(undefined)
  for (const i of use) slots[i] = shards.get(i)
  const dataOut: Array<Uint8Array | undefined> = []
  let missing = false
  for (let i = 0; i < e.k; i++) {
    const at = pkg.subarray(i * size, (i + 1) * size)
    const s = slots[i]
    if (s === undefined) { dataOut[i] = at; missing = true } else at.set(s)
  }
  if (missing) codec.reconstructDataInto(slots, e.k, e.n - e.k, dataOut)
  return openPackage(pkg, e.length, salt, code, into)
}

export function describe (bad: Array<{ index: number, reason: string }>): string {
  return bad.map(b => `fragment ${b.index} ${b.reason.replace(/^fragment \d+ /, '')}`).join('; ')
}

/**
 * Decodes a stripe from any k of its fragments (more are used as spares). `expect` comes from the
 * manifest; `salt` is the swarm salt; `codec` defaults to the codec named by expect.codecId.
 * Returns a fresh buffer of expect.length bytes. Throws FragmentsUnavailableError (found/needed)
 * when fewer than k fragments are given, IntegrityError naming the bad fragments when corruption
 * leaves fewer than k usable or the stripe fails its hash check, InvalidArgumentError for bad input.
 * `verified` lists fragment indexes the caller already hashed to their expected CID (the pool
 * passes those the store just verified): their CID check is skipped; the stripe hash still covers them.
 * `into` (expect.length bytes) receives the stripe instead of a fresh buffer: the pool passes shared
 * memory its own thread allocated (ChunkPool.decode); on a throw it holds garbage.
 */
export function decodeStripe (fragments: IndexedFragment[], expect: StripeExpectation, salt: Uint8Array, codec?: Codec, verified?: ReadonlySet<number>, into?: Uint8Array): Uint8Array {
  checkSalt(salt)
  const e = checkExpectation(expect)
  if (codec != null && codec.id !== e.codecId) throw new InvalidArgumentError(`codec ${codec.id} (${codec.name}) cannot decode fragments of codec ${e.codecId}`)
  const use = codec ?? codecById(e.codecId)
  const { shards, bad } = triage(fragments, e, verified)
  const found = shards.size
  if (found < e.k) {
    if (bad.length > 0) {
      throw new IntegrityError(`only ${found} of the ${e.k} fragments needed are intact: ${describe(bad)}; fetch those fragments again from other peers`, { details: { bad, found, needed: e.k } })
    }
    throw new FragmentsUnavailableError(`a ${e.k}-of-${e.n} stripe needs ${e.k} fragments to decode, only ${found} were given`, { found, needed: e.k })
  }
  const order = [...shards.keys()].sort((a, b) => a - b)
  const chosen = order.slice(0, e.k)
  if (into != null && into.length !== e.length) throw new InvalidArgumentError(`a ${e.length}-byte stripe cannot be decoded into ${into.length} bytes`)
  const first = attempt(chosen, shards, e, salt, use, into)
  if (first !== undefined) return first
  // One of the chosen k is bad in a way only the stripe hash shows. With a spare, leave each out
  // in turn: the attempt that succeeds names the culprit (k extra decodes at most, error path only).
  // Pointless when all matched their CIDs: then the manifest or the salt is wrong, not a fragment.
  const spare = order[e.k]
  if (spare !== undefined && e.cids == null) {
    for (const out of chosen) {
      const alternative = chosen.filter(i => i !== out).concat(spare).sort((a, b) => a - b)
      const result = attempt(alternative, shards, e, salt, use, into)
      if (result !== undefined) return result
    }
  }
  const why = e.cids != null
    ? 'every fragment matches its CID, so the manifest does not describe this stripe or the swarm salt is wrong'
    : 'one of them is corrupt or forged, comes from another stripe, or the swarm salt is wrong; decode with the fragment CIDs to find which'
  throw new IntegrityError(`fragments ${chosen.join(', ')} do not rebuild a stripe that passes its hash check: ${why}`, { details: { indexes: chosen, bad, found, needed: e.k } })
}
