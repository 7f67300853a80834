/**
 * Wire format of `/palm/journal/1.0.0`. Every frame starts `version (u8) ‖ type (u8)`; numbers are
 * unsigned varints; strings and byte strings are `varint length ‖ bytes`; a vector is
 * `count × (author, seq)`; an op is `author, seq, body (UTF-8), sig`.
 *
 *   VECTOR  vector                                         → VECTOR_RES vector
 *   PULL    maxOps, maxBytes, count × (author, after)      → OPS more (u8), vector, count × op
 *   PUSH    count × op                                     → PUSH_RES applied, duplicates, refused
 *   ERROR   code, reason   (a request refused as a whole: busy (flood), unsupported version)
 *
 * Decoding is strict (bounds, counts, trailing bytes): anything wrong is a ProtocolError with fault
 * 'malformed' or 'unexpected'. net never parses an op's body.
 */
import { Uint8ArrayList } from 'uint8arraylist'
import { JOURNAL_WIRE_VERSION, MAX_JOURNAL_AUTHOR_BYTES, MAX_JOURNAL_SIG_BYTES } from '../constants.js'
import type { WireOp } from '../journal-types.js'
import { decodeVarint, encodeVarint, frameError } from './frames.js'

export const JournalMsg = {
  Vector: 1,
  VectorRes: 2,
  Pull: 3,
  Ops: 4,
  Push: 5,
  PushRes: 6,
  Error: 15
} as const
export type JournalMsg = typeof JournalMsg[keyof typeof JournalMsg]

/** Codes of an ERROR reply. */
export const JournalError = { Busy: 1, Unsupported: 2, Internal: 3 } as const

export type Vector = Array<[author: string, seq: number]>

export type JournalRequest =
  | { type: typeof JournalMsg.Vector, vector: Vector }
  | { type: typeof JournalMsg.Pull, maxOps: number, maxBytes: number, ranges: Vector }
  | { type: typeof JournalMsg.Push, ops: WireOp[] }

export type JournalResponse =
  | { type: typeof JournalMsg.VectorRes, vector: Vector }
  | { type: typeof JournalMsg.Ops, more: boolean, vector: Vector, ops: WireOp[] }
  | { type: typeof JournalMsg.PushRes, applied: number, duplicates: number, refused: number }
  | { type: typeof JournalMsg.Error, code: number, reason: string }

/** Bounds a decoder enforces. */
export interface JournalLimits {
  /** Most ops in one frame. */
  maxOps: number
  /** Most authors in one vector or range list. */
  maxAuthors: number
}

const MAX_REASON_BYTES = 512
const utf8 = new TextEncoder()

class Writer {
  readonly list = new Uint8ArrayList()
  constructor (type: JournalMsg) { this.list.append(Uint8Array.of(JOURNAL_WIRE_VERSION, type)) }
  u8 (n: number): this { this.list.append(Uint8Array.of(n)); return this }
  varint (n: number): this { this.list.append(encodeVarint(n)); return this }
  bytes (b: Uint8Array): this { this.varint(b.byteLength); if (b.byteLength > 0) this.list.append(b); return this }
  text (s: string): this { return this.bytes(utf8.encode(s)) }
  vector (v: Vector): this {
    this.varint(v.length)
    for (const [author, seq] of v) this.text(author).varint(seq)
    return this
  }

  op (o: WireOp): this { return this.text(o.author).varint(o.seq).text(o.body).bytes(o.sig) }
}

/** The signature of an op that carries none (its seal vouches for it): one shared empty array. */
const NO_SIG = new Uint8Array(0)

class Reader {
  #pos = 0
  /** `buf` as a Buffer (strings are decoded from it in place). */
  readonly #b: Buffer
  /** The last author decoded and where its bytes are: the ops of a frame mostly share one (decoded once). */
  #author?: { text: string, start: number, end: number }
  constructor (readonly buf: Uint8Array) {
    this.#b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  }
  u8 (): number {
    if (this.#pos >= this.buf.byteLength) throw frameError('malformed', 'journal frame ends early')
    return this.buf[this.#pos++]
  }

  varint (): number {
    const [n, pos] = decodeVarint(this.buf, this.#pos)
    this.#pos = pos
    return n
  }

  /** A byte string's place in the frame: [start, end). */
  #span (max: number, what: string): [number, number] {
    const len = this.varint()
    if (len > max) throw frameError('malformed', `journal ${what} of ${len} bytes is over the limit of ${max}`)
    if (this.#pos + len > this.buf.byteLength) throw frameError('malformed', `journal ${what} runs past the end of the frame`)
    const start = this.#pos
    this.#pos += len
    return [start, this.#pos]
  }

  text (max: number, what: string): string {
    const [start, end] = this.#span(max, what)
    return this.#b.toString('utf8', start, end)
  }

  count (max: number, what: string): number {
    const n = this.varint()
    if (n > max) throw frameError('malformed', `journal frame lists ${n} ${what}, over the limit of ${max}`)
    return n
  }

  vector (limits: JournalLimits): Vector {
    const n = this.count(limits.maxAuthors, 'authors')
    const v: Vector = []
    for (let i = 0; i < n; i++) v.push([this.author(), this.varint()])
    return v
  }

  author (): string {
    const [start, end] = this.#span(MAX_JOURNAL_AUTHOR_BYTES, 'author')
    if (start === end) throw frameError('malformed', 'journal op has an empty author')
    const last = this.#author
    if (last != null && last.end - last.start === end - start && this.#b.compare(this.#b, last.start, last.end, start, end) === 0) return last.text
    const text = this.#b.toString('utf8', start, end)
    this.#author = { text, start, end }
    return text
  }

  ops (limits: JournalLimits): WireOp[] {
    const n = this.count(limits.maxOps, 'ops')
    const ops: WireOp[] = []
    for (let i = 0; i < n; i++) {
      const author = this.author()
      const seq = this.varint()
      if (seq < 1) throw frameError('malformed', `journal op of ${author} has seq 0`)
      const body = this.text(this.buf.byteLength, 'op body')
      // A copy: the frame's buffer may be reused by the stream.
      const [start, end] = this.#span(MAX_JOURNAL_SIG_BYTES, 'signature')
      const sig = start === end ? NO_SIG : new Uint8Array(this.buf.subarray(start, end))
      ops.push({ author, seq, body, sig })
    }
    return ops
  }

  end (): void {
    if (this.#pos !== this.buf.byteLength) throw frameError('malformed', `journal frame has ${this.buf.byteLength - this.#pos} trailing bytes`)
  }
}

/** The version byte of a frame (0 for an empty frame). */
export function journalFrameVersion (bytes: Uint8Array): number {
  return bytes.byteLength > 0 ? bytes[0] : 0
}

export function encodeJournalRequest (req: JournalRequest): Uint8ArrayList {
  const w = new Writer(req.type)
  switch (req.type) {
    case JournalMsg.Vector: w.vector(req.vector); break
    case JournalMsg.Pull: w.varint(req.maxOps).varint(req.maxBytes).vector(req.ranges); break
    case JournalMsg.Push: w.varint(req.ops.length); for (const o of req.ops) w.op(o); break
  }
  return w.list
}

export function encodeJournalResponse (res: JournalResponse): Uint8ArrayList {
  const w = new Writer(res.type)
  switch (res.type) {
    case JournalMsg.VectorRes: w.vector(res.vector); break
    case JournalMsg.Ops: w.u8(res.more ? 1 : 0).vector(res.vector).varint(res.ops.length); for (const o of res.ops) w.op(o); break
    case JournalMsg.PushRes: w.varint(res.applied).varint(res.duplicates).varint(res.refused); break
    case JournalMsg.Error: w.varint(res.code).bytes(utf8.encode(res.reason).subarray(0, MAX_REASON_BYTES)); break
  }
  return w.list
}

function header (r: Reader): number {
  const v = r.u8()
  if (v !== JOURNAL_WIRE_VERSION) throw frameError('unexpected', `journal frame version ${v}, expected ${JOURNAL_WIRE_VERSION}`)
  return r.u8()
}

export function decodeJournalRequest (bytes: Uint8Array, limits: JournalLimits): JournalRequest {
  const r = new Reader(bytes)
  const type = header(r)
  let req: JournalRequest
  switch (type) {
    case JournalMsg.Vector: req = { type, vector: r.vector(limits) }; break
    case JournalMsg.Pull: req = { type, maxOps: r.varint(), maxBytes: r.varint(), ranges: r.vector(limits) }; break
    case JournalMsg.Push: req = { type, ops: r.ops(limits) }; break
    default: throw frameError('unexpected', `journal frame type ${type} is not a request`)
  }
  r.end()
  return req
}

/** Decodes a reply; an ERROR reply is returned as such, any other type than `expected` is 'unexpected'. */
export function decodeJournalResponse (bytes: Uint8Array, expected: JournalMsg, limits: JournalLimits): JournalResponse {
  const r = new Reader(bytes)
  const type = header(r)
  let res: JournalResponse
  if (type === JournalMsg.Error) {
    res = { type, code: r.varint(), reason: r.text(MAX_REASON_BYTES, 'reason') }
  } else if (type !== expected) {
    throw frameError('unexpected', `journal reply of type ${type}, expected ${expected}`)
  } else {
    switch (type) {
      case JournalMsg.VectorRes: res = { type, vector: r.vector(limits) }; break
      case JournalMsg.Ops: res = { type, more: r.u8() === 1, vector: r.vector(limits), ops: r.ops(limits) }; break
      case JournalMsg.PushRes: res = { type, applied: r.varint(), duplicates: r.varint(), refused: r.varint() }; break
      default: throw frameError('unexpected', `journal frame type ${type} is not a reply`)
    }
  }
  r.end()
  return res
}

/** Approximate wire size of an op, bytes (for batch limits). */
export function wireSize (o: WireOp): number {
  return o.author.length + o.body.length + o.sig.byteLength + 12
}
