/**
 * The JournalReplica that journal replication (net) needs, over this device's MetaStore. It keeps
 * the version vector in memory (loaded at start, grown by local commits and applied batches), pages
 * ops out of the log for pulls, and checks what arrives before meta sees it: well-formed, the body's
 * own author and seq match what the wire says (meta applies the op decoded from the signed body, so
 * the two can never disagree), the author is admitted, and no seq is skipped. Each author's Ed25519
 * public key is the one its peer id embeds, trusted on first sight; the signature is checked by meta.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from '@libp2p/interface'
import { decodeOp, type MetaStore, type SignedOp } from '../meta/index.js'
import type { ApplyReport, JournalReplica, WireOp } from '../net/index.js'
import type { AbortOptions } from '../util/abort.js'

export interface MetaReplicaInit {
  /** This device's id (its own ops are never taken from peers). */
  deviceId: string
  /**
   * Whether ops of `author` are accepted (default: any Ed25519 device id; only swarm members can
   * connect at all). Admission by journal ops replaces this when meta records membership.
   */
  isAdmitted?: (author: string) => boolean
}

type Meta = Pick<MetaStore, 'versionVector' | 'readOps' | 'applyOps' | 'trustAuthor' | 'onOps'>

/** Ed25519 signatures are 64 bytes. */
const SIG_BYTES = 64

export class MetaReplica implements JournalReplica {
  readonly #meta: Meta
  readonly #init: MetaReplicaInit
  readonly #log: Logger
  #vector = new Map<string, number>()
  /** Authors whose key is recorded in the journal (or who cannot have one: the reason). */
  readonly #keys = new Map<string, true | string>()
  #unsubscribe?: () => void
  #unsignedLogged = false

  constructor (meta: Meta, init: MetaReplicaInit, log: Logger) {
    this.#meta = meta
    this.#init = init
    this.#log = log
  }

  async start (options: AbortOptions = {}): Promise<void> {
    // Subscribe first: a commit landing while the vector loads is counted either way (max).
    this.#unsubscribe = this.#meta.onOps((ops) => { for (const o of ops) this.#grow(o.op.author, o.op.seq) })
    for (const [author, seq] of await this.#meta.versionVector(options)) this.#grow(author, seq)
  }

  stop (): void {
    this.#unsubscribe?.()
  }

  versionVector (): Map<string, number> {
    return new Map(this.#vector)
  }

  #grow (author: string, seq: number): void {
    if ((this.#vector.get(author) ?? 0) < seq) this.#vector.set(author, seq)
  }

  async readOps (author: string, after: number, limit: number, maxBytes: number, options: AbortOptions = {}): Promise<WireOp[]> {
    const out: WireOp[] = []
    let bytes = 0
    while (out.length < limit && (out.length === 0 || bytes < maxBytes)) {
      const page = await this.#meta.readOps(author, after, limit - out.length, options)
      for (const o of page) {
        if (o.sig == null) {
          // An unsigned journal (tests, or written before keys): nothing a peer could verify.
          if (!this.#unsignedLogged) this.#log.error('op %d@%s is unsigned: it and later ops of that device cannot be replicated', o.seq, author)
          this.#unsignedLogged = true
          return out
        }
        if (out.length > 0 && bytes + o.body.length > maxBytes) return out
        out.push({ author, seq: o.seq, body: o.body, sig: o.sig })
        bytes += o.body.length + o.sig.byteLength
      }
      if (page.length === 0) break
      after = page[page.length - 1].seq
    }
    return out
  }

  onLocalOps (listener: (ops: WireOp[]) => void): () => void {
    return this.#meta.onOps((ops) => {
      const wire: WireOp[] = []
      for (const o of ops) if (o.sig != null) wire.push({ author: o.op.author, seq: o.op.seq, body: o.body, sig: o.sig })
      if (wire.length > 0) listener(wire)
    })
  }

  /** Records the author's key (from its peer id) once; a reason when it cannot have one. */
  async #admit (author: string): Promise<string | undefined> {
    const known = this.#keys.get(author)
    if (known === true) return undefined
    if (known != null) return known
    let reason: string | undefined
    let key: Uint8Array | undefined
    try {
      const id = peerIdFromString(author)
      if (id.type !== 'Ed25519') reason = `unknown author: ${id.type} device ids do not sign journal ops`
      else key = id.publicKey.raw
    } catch {
      reason = 'unknown author: not a device id'
    }
    if (reason == null && this.#init.isAdmitted?.(author) === false) reason = 'unknown author: not admitted to the swarm'
    if (reason != null || key == null) {
      this.#keys.set(author, reason ?? 'unknown author')
      return reason
    }
    await this.#meta.trustAuthor(author, key)
    this.#keys.set(author, true)
    return undefined
  }

  async applyOps (ops: WireOp[], peer: string, options: AbortOptions = {}): Promise<ApplyReport> {
    const report: ApplyReport = { applied: 0, duplicates: 0, refused: [] }
    const next = new Map<string, number>()
    const accepted: SignedOp[] = []
    for (const w of ops) {
      const refuse = (reason: string): void => { report.refused.push({ author: w.author, seq: w.seq, reason }) }
      const held = this.#vector.get(w.author) ?? 0
      if (w.seq <= held) { report.duplicates++; continue }
      if (w.author === this.#init.deviceId) { refuse('own op this device lacks'); continue }
      const expected = next.get(w.author) ?? held + 1
      if (w.seq !== expected) { refuse(w.seq < expected ? 'repeated in the batch' : 'gap'); continue }
      const reason = await this.#admit(w.author)
      if (reason != null) { refuse(reason); continue }
      if (w.sig.byteLength !== SIG_BYTES) { refuse('malformed: bad signature length'); continue }
      let signed: SignedOp
      try {
        signed = { op: decodeOp(w.body), body: w.body, sig: w.sig }
      } catch (err) {
        refuse(`malformed: ${(err as Error).message}`)
        continue
      }
      if (signed.op.author !== w.author || signed.op.seq !== w.seq) { refuse('forged: the signed body names another author or seq'); continue }
      next.set(w.author, w.seq + 1)
      accepted.push(signed)
    }
    if (accepted.length === 0) return report
    // Total order (hlc, author, seq): keeps each author's seq order, and is the order every device applies.
    accepted.sort((a, b) => a.op.hlc < b.op.hlc ? -1 : a.op.hlc > b.op.hlc ? 1 : a.op.author < b.op.author ? -1 : a.op.author > b.op.author ? 1 : a.op.seq - b.op.seq)
    const outcomes = await this.#meta.applyOps(accepted, options)
    const failed = new Set<string>()
    outcomes.forEach((err, i) => {
      const { author, seq } = accepted[i].op
      if (err == null && !failed.has(author)) {
        report.applied++
        this.#grow(author, seq)
        return
      }
      // A later op of an author whose earlier op failed fails too (a gap in meta).
      failed.add(author)
      report.refused.push({ author, seq, reason: reasonOf(err) })
    })
    if (report.refused.length > 0) this.#log.trace('from %s: %d applied, %d refused (first: %s)', peer, report.applied, report.refused.length, report.refused[0].reason)
    return report
  }
}

/** The refusal reason an error from meta stands for. */
function reasonOf (err: Error | undefined): string {
  if (err == null) return 'gap'
  switch (err.name) {
    case 'IntegrityError': return 'forged: bad signature'
    case 'PermissionError': return 'unknown author'
    case 'NotSupportedError': return 'late'
    default: return `${err.name}: ${err.message}`
  }
}
