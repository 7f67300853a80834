/**
 * Wire format of `/palm/fragment/1.0.0`. Every frame starts `version (u8) ‖ type (u8)`; numbers are
 * unsigned varints, CIDs are `varint length ‖ CID bytes`, reasons are `varint length ‖ UTF-8`.
 *
 *   PUT       count, then count × (cid, varint length, bytes)      → PUT_RES  count × (status, reason)
 *   GET       cid                                                  → GET_RES  status, reason, bytes…
 *   HAS       count × cid                                          → HAS_RES  count × u8 (0/1)
 *   DELETE    count × cid                                          → DEL_RES  status, reason
 *   SYNC      count × cid (0 = everything stored)                  → SYNC_RES status, reason
 *   ERROR     status, reason   (server: request refused as a whole, e.g. unknown version)
 *
 * Decoding is strict: every length is bounds-checked, trailing bytes are an error, counts are
 * limited, and anything wrong is a ProtocolError with fault 'malformed' or 'unexpected'.
 */
import { Uint8ArrayList } from 'uint8arraylist'
import { CID } from 'multiformats/cid'
import { FRAGMENT_WIRE_VERSION } from '../constants.js'
import { decodeVarint, encodeVarint, frameError } from './frames.js'

export const MsgType = {
  Put: 1,
  PutRes: 2,
  Get: 3,
  GetRes: 4,
  Has: 5,
  HasRes: 6,
  Delete: 7,
  DeleteRes: 8,
  Sync: 9,
  SyncRes: 10,
  Error: 15
} as const
export type MsgType = typeof MsgType[keyof typeof MsgType]

/** Per-item or per-request result codes. */
export const Status = {
  Ok: 0,
  NotFound: 1,
  Integrity: 2,
  Quota: 3,
  NoSpace: 4,
  BadRequest: 5,
  Internal: 6,
  Unsupported: 7,
  /** A request this device does not honour from a peer (a DELETE of a fragment it still needs). */
  Refused: 8
} as const
export type Status = typeof Status[keyof typeof Status]
const STATUS_MAX = 8
const MAX_REASON_BYTES = 1024
const CID_MAX_BYTES = 128

export interface Result { status: Status, reason: string }

export type Request =
  | { type: typeof MsgType.Put, items: Array<{ cid: CID, bytes: Uint8Array }> }
  | { type: typeof MsgType.Get, cid: CID }
  | { type: typeof MsgType.Has | typeof MsgType.Delete | typeof MsgType.Sync, cids: CID[] }

export type Response =
  | { type: typeof MsgType.PutRes, results: Result[] }
  | { type: typeof MsgType.GetRes, result: Result, bytes: Uint8Array }
  | { type: typeof MsgType.HasRes, present: boolean[] }
  | { type: typeof MsgType.DeleteRes | typeof MsgType.SyncRes | typeof MsgType.Error, result: Result }

/** Builds a frame from parts without copying large byte arrays. */
class Writer {
  readonly list = new Uint8ArrayList()
  constructor (type: MsgType) { this.list.append(Uint8Array.of(FRAGMENT_WIRE_VERSION, type)) }
  u8 (n: number): this { this.list.append(Uint8Array.of(n)); return this }
  varint (n: number): this { this.list.append(encodeVarint(n)); return this }
  bytes (b: Uint8Array): this { this.varint(b.byteLength); if (b.byteLength > 0) this.list.append(b); return this }
  raw (b: Uint8Array): this { if (b.byteLength > 0) this.list.append(b); return this }
  cid (c: CID): this { return this.bytes(c.bytes) }
  result (r: Result): this { return this.u8(r.status).bytes(new TextEncoder().encode(r.reason.slice(0, MAX_REASON_BYTES / 4))) }
}

/** Reads a frame with bounds checks; every failure is fault 'malformed'. */
class Reader {
  #pos = 0
  constructor (readonly buf: Uint8Array) {}
  get done (): boolean { return this.#pos === this.buf.byteLength }
  u8 (): number {
    if (this.#pos >= this.buf.byteLength) throw frameError('malformed', 'frame ends early')
    return this.buf[this.#pos++]
  }

  varint (): number {
    const [n, next] = decodeVarint(this.buf, this.#pos)
    this.#pos = next
    return n
  }

  bytes (max: number): Uint8Array {
    const n = this.varint()
    if (n > max || this.#pos + n > this.buf.byteLength) throw frameError('malformed', `field of ${n} bytes does not fit the frame`)
    const out = this.buf.subarray(this.#pos, this.#pos + n)
    this.#pos += n
    return out
  }

  rest (): Uint8Array { const out = this.buf.subarray(this.#pos); this.#pos = this.buf.byteLength; return out }

  cid (): CID {
    const b = this.bytes(CID_MAX_BYTES)
    try {
      return CID.decode(b)
    } catch (err) {
      throw frameError('malformed', 'frame holds an invalid CID', err)
    }
  }

  count (max: number): number {
    const n = this.varint()
    if (n > max) throw frameError('malformed', `count ${n} is over the limit of ${max}`)
    return n
  }

  result (): Result {
    const status = this.u8()
    if (status > STATUS_MAX) throw frameError('malformed', `unknown status ${status}`)
    const reason = new TextDecoder('utf-8', { fatal: false }).decode(this.bytes(MAX_REASON_BYTES))
    return { status: status as Status, reason }
  }

  end (): void { if (!this.done) throw frameError('malformed', `${this.buf.byteLength - this.#pos} trailing bytes in frame`) }
}

export function encodeRequest (req: Request): Uint8ArrayList {
  const w = new Writer(req.type)
  if (req.type === MsgType.Put) {
    w.varint(req.items.length)
    for (const it of req.items) w.cid(it.cid).bytes(it.bytes)
  } else if (req.type === MsgType.Get) {
    w.cid(req.cid)
  } else {
    w.varint(req.cids.length)
    for (const c of req.cids) w.cid(c)
  }
  return w.list
}

export function encodeResponse (res: Response): Uint8ArrayList {
  const w = new Writer(res.type)
  switch (res.type) {
    case MsgType.PutRes:
      w.varint(res.results.length)
      for (const r of res.results) w.result(r)
      break
    case MsgType.GetRes:
      w.result(res.result).raw(res.bytes)
      break
    case MsgType.HasRes:
      w.varint(res.present.length)
      for (const p of res.present) w.u8(p ? 1 : 0)
      break
    default:
      w.result(res.result)
  }
  return w.list
}

/** Checks the version and returns a reader positioned after the type byte. */
function open (frame: Uint8Array): { type: number, r: Reader, version: number } {
  const r = new Reader(frame)
  const version = r.u8()
  const type = r.u8()
  return { type, r, version }
}

/** Version of a frame (first byte), undefined for an empty one. */
export function frameVersion (frame: Uint8Array): number | undefined {
  return frame.byteLength > 0 ? frame[0] : undefined
}

export interface DecodeLimits { maxBatchCount: number, maxFragmentBytes: number }

export function decodeRequest (frame: Uint8Array, limits: DecodeLimits): Request {
  const { type, r } = open(frame)
  let req: Request
  switch (type) {
    case MsgType.Put: {
      const n = r.count(limits.maxBatchCount)
      const items: Array<{ cid: CID, bytes: Uint8Array }> = []
      for (let i = 0; i < n; i++) items.push({ cid: r.cid(), bytes: r.bytes(limits.maxFragmentBytes) })
      req = { type, items }
      break
    }
    case MsgType.Get:
      req = { type, cid: r.cid() }
      break
    case MsgType.Has: case MsgType.Delete: case MsgType.Sync: {
      const n = r.count(limits.maxBatchCount)
      const cids: CID[] = []
      for (let i = 0; i < n; i++) cids.push(r.cid())
      req = { type, cids }
      break
    }
    default:
      throw frameError('unexpected', `message type ${type} is not a request`)
  }
  r.end()
  return req
}

/** Decodes a response and checks it is the one `expected` (or an ERROR frame). */
export function decodeResponse (frame: Uint8Array, expected: MsgType, limits: DecodeLimits): Response {
  const { type, r, version } = open(frame)
  if (version !== FRAGMENT_WIRE_VERSION) throw frameError('unexpected', `reply in wire version ${version}, expected ${FRAGMENT_WIRE_VERSION}`)
  if (type !== expected && type !== MsgType.Error) throw frameError('unexpected', `reply of type ${type}, expected ${expected}`)
  let res: Response
  switch (type) {
    case MsgType.PutRes: {
      const n = r.count(limits.maxBatchCount)
      const results: Result[] = []
      for (let i = 0; i < n; i++) results.push(r.result())
      res = { type, results }
      break
    }
    case MsgType.GetRes:
      res = { type, result: r.result(), bytes: r.rest() }
      break
    case MsgType.HasRes: {
      const n = r.count(limits.maxBatchCount)
      const present: boolean[] = []
      for (let i = 0; i < n; i++) {
        const b = r.u8()
        if (b > 1) throw frameError('malformed', `has flag ${b} is not 0 or 1`)
        present.push(b === 1)
      }
      res = { type, present }
      break
    }
    default:
      res = { type: type as typeof MsgType.DeleteRes, result: r.result() }
  }
  r.end()
  return res
}
