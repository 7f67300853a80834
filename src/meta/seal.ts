/**
 * Seals: one signature vouches for a run of ops. Every op names the hash of its author's previous
 * op (`prev`, op.ts `bodyHash`), and the writer signs only the last op of its author's ops in each
 * committed batch (at most SEAL_MAX_OPS ops or SEAL_MAX_BYTES of text apart). An op is authentic
 * when it carries its author's valid signature, or when the next op of its author (seq + 1) is
 * authentic and names this op's hash as `prev`: so one author's contiguous ops are checked from
 * their last seal backwards, one Ed25519 verification per run instead of one per op. Ops logged
 * before ops were chained each carry their own signature and verify alone.
 *
 * `ChainWalk` reads one author's ops forward (in seq order) and sorts them into authentic runs,
 * refused ops and an unsealed tail (ops no seal received so far vouches for); `checkSealed` does
 * that for a batch of ops of any authors, with the signatures checked on the threadpool.
 */
import type { KeyObject } from 'node:crypto'
import { SEAL_MAX_OPS } from './constants.js'
import { bodyHash, publicKeyObject, verifyOp, verifyOpAsync, type SignedOp } from './op.js'

/** Where a ChainWalk puts what it found. */
export interface ChainSink {
  /** A run of authentic ops in seq order, ending on its seal. */
  good: (ops: SignedOp[]) => void
  /** An op that is not authentic, and why (the reason starts with 'bad signature'). */
  bad: (op: SignedOp, reason: string) => void
  /** Ops that no seal vouches for yet (their batch was cut before its seal): pulled again later. */
  unsealed: (ops: SignedOp[]) => void
}

/**
 * One author's ops, fed in seq order. Holds the ops since the last seal (at most `maxRun`: a run
 * longer than any writer makes is refused rather than held without bound).
 */
export class ChainWalk {
  readonly #sigOk: (s: SignedOp) => boolean
  readonly #sink: ChainSink
  readonly #maxRun: number
  #run: SignedOp[] = []

  /** `sigOk` tells whether an op's own signature is its author's (called only for ops that carry one). */
  constructor (sigOk: (s: SignedOp) => boolean, sink: ChainSink, maxRun = 4 * SEAL_MAX_OPS) {
    this.#sigOk = sigOk
    this.#sink = sink
    this.#maxRun = maxRun
  }

  add (s: SignedOp): void {
    const last = this.#run[this.#run.length - 1]
    if (last != null) {
      if (s.op.seq !== last.op.seq + 1) {
        // Not the next op: what came before it may still be sealed by ops not received.
        this.#sink.unsealed(this.#take())
      } else if (s.op.prev !== bodyHash(last.body)) {
        this.#refuse(`bad signature: its text is not the one op ${s.op.seq} of that device was sealed with (damaged or forged)`)
      }
    }
    if (s.sig != null) {
      if (this.#sigOk(s)) {
        this.#run.push(s)
        this.#sink.good(this.#take())
      } else {
        const run = this.#take()
        this.#sink.bad(s, 'bad signature: the op was damaged or forged')
        for (const o of run) this.#sink.bad(o, `bad signature: its seal, op ${s.op.seq}, has a bad signature`)
      }
      return
    }
    this.#run.push(s)
    if (this.#run.length > this.#maxRun) {
      const run = this.#take()
      for (const o of run) this.#sink.bad(o, `bad signature: more than ${this.#maxRun} ops of that device without a seal (no PALM writes that)`)
    }
  }

  /** The ops after the last seal: unsealed. */
  end (): void {
    if (this.#run.length > 0) this.#sink.unsealed(this.#take())
  }

  /** The held run's last op does not hash to its successor's `prev`: it and the ops it would seal are refused. */
  #refuse (reason: string): void {
    const run = this.#take()
    const broken = run[run.length - 1]
    this.#sink.bad(broken, reason)
    for (const o of run) if (o !== broken) this.#sink.bad(o, `bad signature: sealed only through op ${broken.op.seq}, which was damaged or forged`)
  }

  #take (): SignedOp[] {
    const run = this.#run
    this.#run = []
    return run
  }
}

/** What `checkSealed` found. */
export interface SealCheck {
  /** Authentic ops (by author, in seq order). */
  good: SignedOp[]
  bad: Array<{ op: SignedOp, reason: string }>
  unsealed: SignedOp[]
}

/**
 * Checks a batch of ops of authors whose keys `keyOf` gives: each author's ops in seq order are
 * walked from seal to seal; only the signatures ops carry are verified (on the threadpool, in
 * parallel), usually one per author per committed batch of its writer.
 */
export async function checkSealed (ops: SignedOp[], keyOf: (author: string) => KeyObject): Promise<SealCheck> {
  const byAuthor = new Map<string, SignedOp[]>()
  for (const s of ops) {
    const run = byAuthor.get(s.op.author)
    if (run == null) byAuthor.set(s.op.author, [s])
    else run.push(s)
  }
  const signed = ops.filter(s => s.sig != null)
  const ok = await Promise.all(signed.map(async s => await verifyOpAsync(s, keyOf(s.op.author))))
  const valid = new Set(signed.filter((_, i) => ok[i]))
  const out: SealCheck = { good: [], bad: [], unsealed: [] }
  const sink: ChainSink = {
    good: (run) => { for (const s of run) out.good.push(s) },
    bad: (op, reason) => { out.bad.push({ op, reason }) },
    unsealed: (run) => { for (const s of run) out.unsealed.push(s) }
  }
  for (const run of byAuthor.values()) {
    run.sort((a, b) => a.op.seq - b.op.seq)
    const walk = new ChainWalk(s => valid.has(s), sink)
    for (const s of run) walk.add(s)
    walk.end()
  }
  return out
}

/**
 * Checks a whole op log (fsck, rebuild), read in an order where each author's ops come in seq
 * order (total order does): one ChainWalk per author whose key is known; ops of other authors are
 * not checked. Signatures are verified here, synchronously.
 */
export class LogCheck {
  readonly #walks = new Map<string, ChainWalk>()
  readonly #keys: ReadonlyMap<string, Uint8Array>
  readonly #sink: ChainSink

  constructor (keys: ReadonlyMap<string, Uint8Array>, sink: ChainSink) {
    this.#keys = keys
    this.#sink = sink
  }

  /** Feeds one op; false when its author's key is unknown (not checked). */
  add (s: SignedOp): boolean {
    let walk = this.#walks.get(s.op.author)
    if (walk == null) {
      const raw = this.#keys.get(s.op.author)
      if (raw == null) return false
      const key = publicKeyObject(raw)
      walk = new ChainWalk(o => verifyOp(o, key), this.#sink)
      this.#walks.set(s.op.author, walk)
    }
    walk.add(s)
    return true
  }

  /** Every author's ops after its last seal go to `unsealed`. */
  end (): void {
    for (const walk of this.#walks.values()) walk.end()
  }
}
