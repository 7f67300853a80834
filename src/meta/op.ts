/**
 * The op: one entry of the append-only journal. Every op names nodes by their global node id (never
 * by a device-local ino), carries its own timestamps, and so applies the same on every device. The
 * wire form is JSON with a fixed key order; the author signs exactly those bytes (Ed25519), and the
 * journal stores them as they were signed. Not every op carries a signature: each op names the hash
 * of its author's previous op (`prev`), and the writer signs only the last op of each committed
 * batch (its seal), which so vouches for the ops before it (seal.ts).
 */
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto'
import { ProtocolError } from '../errors.js'
import { OP_VERSION, OP_VERSION_SLICES } from './constants.js'
import type { FileType, SliceAppend, StripeRef } from './types.js'

export type RenameMode = 'replace' | 'noreplace' | 'exchange'
export type XattrMode = 'any' | 'create' | 'replace'

export type OpBody =
  | { kind: 'create', parent: string, name: string, type: FileType, mode: number, uid: number, gid: number, rdev: number, target?: string }
  | { kind: 'link', node: string, parent: string, name: string }
  | {
    kind: 'unlink', parent: string, name: string, node: string
    /** The content version (`ver`) of the file its author removed: another one here is an edit it did not see, and the edit wins. */
    seen?: string
    /** The file's link count as its author saw it, when over 1: its author meant the file to live on under another name. */
    links?: number
  }
  | { kind: 'rmdir', parent: string, name: string, node: string }
  | {
    kind: 'rename', parent: string, name: string, newParent: string, newName: string, node: string, mode: RenameMode
    /** The node its author saw at the new name ('' for none): another node there is never replaced unseen. */
    replaces?: string
    /** The content version of the file it replaces, as its author saw it: another one is an edit it did not see. */
    replacesVer?: string
    /** The replaced file's link count as its author saw it, when over 1 (see unlink's `links`). */
    replacesLinks?: number
  }
  | { kind: 'setattr', node: string, mode?: number, uid?: number, gid?: number, size?: number, atime?: bigint, mtime?: bigint, ctime?: bigint }
  | {
    kind: 'setContent', node: string, size: number, stripeSize: number, stripes: StripeRef[], holes: number[], mtime?: bigint
    /** The content version (`ver`) the author's file had: another one here means a concurrent write. */
    base?: string
    /** One name of the file where it was written (parent node, name): where a conflict copy goes. */
    at?: [string, string]
    /** Slices appended to stored stripes (op format v2: an older PALM refuses the op). */
    addSlices?: SliceAppend[]
  }
  | { kind: 'setxattr', node: string, name: string, value: Uint8Array, mode: XattrMode }
  | { kind: 'removexattr', node: string, name: string }
  | { kind: 'release', node: string }
  /** Admits a device to the swarm: ops it signs with `key` (raw Ed25519, base64) are accepted. */
  | { kind: 'admit', device: string, key: string }
  /**
   * Removes a device from the swarm, for good: its ops are refused from then on (whatever their
   * clock), and no `admit` op admits it again (it may rejoin only with a new device id).
   */
  | { kind: 'removeDevice', device: string }
  /**
   * The swarm was re-keyed (after a removal): the network key of `epoch` (1, 2, …) has the
   * fingerprint `keyId` (16 hex digits of a labelled SHA-256, never the key). The journal keeps
   * the latest (apply-admit.ts).
   */
  | { kind: 'keyEpoch', epoch: number, keyId: string }
  /**
   * The author's failure domain (a machine, rack or house it shares with other devices; '' for
   * none): placement keeps fewer than k fragments of a stripe per domain (docs/security.md).
   */
  | { kind: 'setDomain', domain: string }
  /**
   * Repair: new holders of some fragments of one stripe (`stripe`: its id; `set`: [fragment index,
   * its CID, the devices holding it now]). Not a content change: skipped when the stripe was
   * replaced meanwhile, entries whose CID differs are skipped (apply-holders.ts).
   */
  | { kind: 'holders', node: string, index: number, stripe: string, set: Array<[number, string, string[]]> }
  /**
   * Re-encoding after a policy change: stripe `index` of `node` becomes `stripe` (the same bytes at
   * another k/n, placed anew) only while it is still the stripe `from`. Not a content change: a
   * concurrent write wins in either order (apply-reencode.ts).
   */
  | {
    kind: 'reencode', node: string, index: number, from: string, stripe: StripeRef
    /**
     * Compaction (op format v2): the ids of the stripe's first slices that `stripe` holds merged
     * with the base `from`; applies only while the stripe still starts with exactly those slices.
     */
    merged?: string[]
  }

export type OpKind = OpBody['kind']

export interface OpHeader {
  /** Op format version. */
  v: number
  /** Hybrid logical clock (ns). Total order: (hlc, author, seq). */
  hlc: bigint
  /** Device id of the author. */
  author: string
  /** Per-author sequence number, 1, 2, … without gaps. */
  seq: number
  /** The op's wall time (ns): the ctime/mtime it sets. */
  time: bigint
  /**
   * `bodyHash` of the author's previous op (seq - 1); absent on seq 1 and on ops logged before
   * ops were chained. An op whose successor is authentic and names its hash here is authentic.
   */
  prev?: string
}

export type Op = OpHeader & OpBody

/** An op as stored and exchanged: the signed bytes and the signature. */
export interface SignedOp {
  op: Op
  /** The exact JSON text that was signed (by the op's own signature or through the chain to its seal). */
  body: string
  /**
   * Ed25519 signature of `body` by the author: on a seal (the last op of its author's batch), on
   * ops logged before ops were chained; undefined on the others and in an unsigned local journal.
   */
  sig?: Uint8Array
}

/** An op as received from another device: the signed bytes and the signature, nothing parsed. */
export interface WireOp {
  body: string
  sig?: Uint8Array
  /** The author the sender said the op has (checked against the body, which is what is applied). */
  author?: string
  /** The seq the sender said the op has (checked as `author`). */
  seq?: number
}

/** The format version an op body needs: v2 for one that names slices (appends or compacts them), else v1 (older devices read it). */
export function opVersionOf (body: OpBody): number {
  if (body.kind === 'setContent' && body.addSlices !== undefined) return OP_VERSION_SLICES
  if (body.kind === 'reencode' && body.merged !== undefined) return OP_VERSION_SLICES
  return OP_VERSION
}

/** The node id that a `create` op gives its new node. */
export function nodeIdOf (author: string, seq: number): string {
  return `${seq}@${author}`
}

/** The op's JSON wire form (bigints as decimal strings, bytes as base64), keys in a fixed order. */
export function encodeOp (op: Op): string {
  const { v, hlc, author, seq, time, prev, ...body } = op
  const wire: Record<string, unknown> = { v, hlc: hlc.toString(), author, seq, time: time.toString() }
  if (prev !== undefined) wire.prev = prev
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined) continue
    if (typeof value === 'bigint') wire[key] = value.toString()
    else if (value instanceof Uint8Array) wire[key] = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
    else wire[key] = value
  }
  return JSON.stringify(wire)
}

const BIGINT_FIELDS = new Set(['atime', 'mtime', 'ctime'])

/** Characters of `prev`: base64url of SHA-256 cut to 22 characters (132 bits). */
const PREV_CHARS = 22
const PREV_PATTERN = /^[A-Za-z0-9_-]{22}$/

/** The hash an op's successor names as its `prev`: base64url SHA-256 of the op's exact text, 132 bits. */
export function bodyHash (body: string): string {
  return createHash('sha256').update(body).digest('base64url').slice(0, PREV_CHARS)
}

/** Parses an op's wire form; ProtocolError when it is not a well-formed op. */
export function decodeOp (body: string): Op {
  let wire: Record<string, unknown>
  try {
    wire = JSON.parse(body)
  } catch (err) {
    throw new ProtocolError('journal op is not valid JSON: the sending device runs an incompatible PALM or the op was damaged', { cause: err })
  }
  if (wire == null || typeof wire !== 'object' || (wire.v !== OP_VERSION && wire.v !== OP_VERSION_SLICES) || typeof wire.kind !== 'string' ||
    typeof wire.author !== 'string' || typeof wire.seq !== 'number' || typeof wire.hlc !== 'string' || typeof wire.time !== 'string') {
    throw new ProtocolError(`journal op ${body.slice(0, 80)} lacks its header or has an unknown version: upgrade PALM on the device that wrote it`)
  }
  if ((wire.addSlices !== undefined || wire.merged !== undefined) && wire.v !== OP_VERSION_SLICES) {
    throw new ProtocolError(`journal op ${body.slice(0, 80)} names slices but has format v${String(wire.v)}, not v${OP_VERSION_SLICES}: the device that wrote it runs an incompatible PALM`)
  }
  if (wire.prev !== undefined && (typeof wire.prev !== 'string' || !PREV_PATTERN.test(wire.prev))) {
    throw new ProtocolError(`journal op ${body.slice(0, 80)} has a malformed prev hash: the sending device runs an incompatible PALM or the op was damaged`)
  }
  // The parsed object becomes the op (no copy: a catch-up decodes every op it receives).
  wire.hlc = parseBigInt(wire.hlc, 'hlc')
  wire.time = parseBigInt(wire.time, 'time')
  for (const key of BIGINT_FIELDS) if (Object.hasOwn(wire, key)) wire[key] = parseBigInt(wire[key], key)
  if (wire.kind === 'setxattr' && Object.hasOwn(wire, 'value')) wire.value = new Uint8Array(Buffer.from(String(wire.value), 'base64'))
  return wire as unknown as Op
}

function parseBigInt (value: unknown, key: string): bigint {
  if (typeof value !== 'string' || !/^-?\d{1,30}$/.test(value)) throw new ProtocolError(`journal op field ${key} is not an integer string`)
  return BigInt(value)
}

/** A raw 32-byte Ed25519 public key as a node:crypto key (make it once per author for many verifications). */
export function publicKeyObject (publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' })
}

/** verifyOp on the libuv threadpool (node:crypto's callback form): many verify in parallel, off the event loop. */
export async function verifyOpAsync (signed: SignedOp, key: KeyObject): Promise<boolean> {
  const sig = signed.sig
  if (sig == null) return false
  return await new Promise<boolean>((resolve) => {
    verifySignature(null, Buffer.from(signed.body), key, sig, (err, ok) => { resolve(err == null && ok) })
  })
}

/** True when `sig` is the author's Ed25519 signature of `body`; `publicKey` is the raw 32-byte key or its KeyObject. */
export function verifyOp (signed: SignedOp, publicKey: Uint8Array | KeyObject): boolean {
  if (signed.sig == null) return false
  const key = publicKey instanceof Uint8Array ? publicKeyObject(publicKey) : publicKey
  return verifySignature(null, Buffer.from(signed.body), key, signed.sig)
}
