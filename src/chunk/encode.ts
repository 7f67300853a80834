/**
 * encodeStripe: stripe → n self-describing fragments (header + shard) named by their CIDs.
 * Pure and synchronous; one fresh buffer per fragment, data shards written in place by CAONT and
 * parity written in place by the codec.
 */
import { createHash } from 'node:crypto'
import { cidOf, type CID } from '../util/cid.js'
import { sealPackage } from './caont.js'
import { codecById } from './codec.js'
import { FORMAT_VERSION, HEADER_LENGTH_BYTES } from './constants.js'
import { fragmentLengthFor, writeHeader } from './header.js'
import { checkCodecId, checkPolicy, checkSalt, checkStripe } from './validate.js'
import { hashCodeOf } from './version.js'
import type { Codec, EncodedStripe, Fragment, Policy } from './types.js'

/** Hex SHA-256 over the fragment CIDs' bytes in index order: the stripe's stable id. */
export function stripeIdOf (cids: CID[]): string {
  const hash = createHash('sha256')
  for (const cid of cids) hash.update(cid.bytes)
  return hash.digest('hex')
}

/**
 * Encodes one stripe (0 … MAX_STRIPE_SIZE_BYTES bytes) into `policy.n` fragments of which any
 * `policy.k` rebuild it. Convergent: the same stripe and salt always give the same fragments.
 * `salt` is the swarm salt (16–64 bytes); `codec` defaults to Reed-Solomon (id 1, default engine);
 * `version` is the fragment format's (default FORMAT_VERSION; 1 for a swarm mid-upgrade, ChunkPoolInit.formatVersion).
 * The stripe is only read. Throws InvalidArgumentError for bad input, NotSupportedError for a
 * version this palm does not write.
 */
export function encodeStripe (stripe: Uint8Array, policy: Policy, salt: Uint8Array, codec: Codec = codecById(), version = FORMAT_VERSION): EncodedStripe {
  checkStripe(stripe)
  checkPolicy(policy)
  checkSalt(salt)
  checkCodecId(codec.id)
  const code = hashCodeOf(version)
  const { k, n } = policy
  const length = stripe.length
  const buffers: Uint8Array[] = []
  for (let index = 0; index < n; index++) {
    const bytes = new Uint8Array(fragmentLengthFor(length, k))
    writeHeader(bytes, { version, codecId: codec.id, k, n, index, stripeLength: length })
    buffers.push(bytes)
  }
  const shards = buffers.map(b => b.subarray(HEADER_LENGTH_BYTES))
  sealPackage(stripe, salt, shards.slice(0, k), code)
  if (n > k) codec.encodeInto(shards.slice(0, k), shards.slice(k))
  const fragments: Fragment[] = buffers.map((bytes, index) => ({ index, cid: cidOf(bytes, code), bytes }))
  return { length, k, n, codecId: codec.id, id: stripeIdOf(fragments.map(f => f.cid)), fragments }
}
