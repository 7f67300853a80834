/**
 * Types of the chunk layer: stripes ↔ k-of-n fragments (CAONT-RS). Pure: bytes in, bytes out.
 */
import type { CID } from 'multiformats/cid'
import type { AbortOptions } from '../util/abort.js'

/** Any `k` of `n` fragments rebuild a stripe. 1 ≤ k ≤ n ≤ 255. */
export interface Policy {
  k: number
  n: number
}

/** One of a stripe's `n` fragments: header + shard, named by the CIDv1 (raw; blake3, or sha256 in format version 1) of all its bytes. */
export interface Fragment {
  /** 0 … n-1; indexes below k are data shards, the rest parity. */
  index: number
  cid: CID
  /** The whole fragment (header + shard): exactly the bytes stored and sent. */
  bytes: Uint8Array
}

/** The result of encoding one stripe. */
export interface EncodedStripe {
  /** Stripe data length in bytes (0 … stripe size). */
  length: number
  k: number
  n: number
  codecId: number
  /**
   * Stable id of this encoded stripe (hex SHA-256 over the fragment CIDs in index order). Identical
   * stripes in one swarm get identical ids; placement hashes on it.
   */
  id: string
  fragments: Fragment[]
}

/** What a fragment's header says about itself. */
export interface FragmentHeader {
  version: number
  codecId: number
  k: number
  n: number
  index: number
  /** Length of the stripe the fragment belongs to. */
  stripeLength: number
  /** Length of the shard that follows the header. */
  shardLength: number
  /** Header size in bytes. */
  headerLength: number
}

/** What the caller expects of the stripe being decoded (from the manifest); checked against every fragment. */
export interface StripeExpectation {
  k: number
  n: number
  length: number
  codecId?: number
  /** CIDs by fragment index, when known: each fragment given must match its CID. */
  cids?: Array<CID | string>
}

/**
 * Reed-Solomon (or another erasure code) behind a stable numeric id stored in every fragment. The id
 * names the math, not the implementation: two engines with one id give byte-identical shards.
 */
export interface Codec {
  readonly id: number
  readonly name: string
  /** Returns the `parityCount` parity shards for equal-length data shards. */
  encode: (dataShards: Uint8Array[], parityCount: number) => Uint8Array[]
  /**
   * Given all `k + parityCount` slots (missing ones undefined, at least k present, equal lengths),
   * returns the k data shards.
   */
  reconstructData: (shards: Array<Uint8Array | undefined>, k: number, parityCount: number) => Uint8Array[]
  /** Zero-copy form of `encode`: writes the parity into `parityShards` (same length as the data shards). */
  encodeInto: (dataShards: Uint8Array[], parityShards: Uint8Array[]) => void
  /**
   * Zero-copy form of `reconstructData`: writes each missing data shard `i` (shards[i] undefined,
   * i < k) into `dataOut[i]`; other entries of `dataOut` are not touched and may be undefined.
   */
  reconstructDataInto: (shards: Array<Uint8Array | undefined>, k: number, parityCount: number, dataOut: Array<Uint8Array | undefined>) => void
}

/** Which implementation of codec id 1 (Reed-Solomon GF(2^8)) to run. Both give identical bytes. */
export type RsEngine = 'js' | 'wasm'

export interface PoolEncodeOptions extends AbortOptions {
  /**
   * Keep the caller's stripe usable (one copy). Default false: a stripe that spans its whole
   * ArrayBuffer is moved to the worker and the caller's view is detached (length 0) as soon as
   * encode() is called. Views into a larger buffer are always copied, never detached. A stripe in
   * shared memory is read in place either way: its caller does not write it while the job runs
   * (src/chunk/ownership.ts).
   */
  keepStripe?: boolean
}

export interface PoolDecodeOptions extends AbortOptions {
  /** Move whole-buffer fragment views to the worker (detaching them) instead of copying. Default false. */
  transferFragments?: boolean
}

/** Encode/decode off the main thread. */
export interface ChunkPool {
  /** Encodes one stripe on a worker; see PoolEncodeOptions for who owns `stripe` afterwards. */
  encode: (stripe: Uint8Array, policy: Policy, options?: PoolEncodeOptions) => Promise<EncodedStripe>
  /** Decodes from any k fragments (whole fragment bytes). Throws FragmentsUnavailable / Integrity. */
  decode: (fragments: Array<{ index: number, bytes: Uint8Array }>, expect: StripeExpectation, options?: PoolDecodeOptions) => Promise<Uint8Array>
  /**
   * Repair: the fragments `wanted` (indexes), rebuilt from any k of `fragments` without opening the
   * package, each checked against `expect.cids` (required). Throws FragmentsUnavailable / Integrity.
   */
  rebuild: (fragments: Array<{ index: number, bytes: Uint8Array }>, expect: StripeExpectation, wanted: number[], options?: PoolDecodeOptions) => Promise<Fragment[]>
  start: () => Promise<void>
  stop: () => Promise<void>
}
