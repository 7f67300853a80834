/**
 * The JournalReplica that journal replication (net) needs, over this device's MetaStore. It keeps
 * the version vector in memory (loaded at start, grown by local commits and applied batches), pages
 * ops out of the log for pulls, and checks what arrives before meta sees it: well-formed, the body's
 * own author and seq match what the wire says (meta applies the op decoded from the signed body, so
 * the two can never disagree), and no seq is skipped. Meta checks that the author was admitted (an
 * `admit` op signed by a member: daemon/admission.ts) and the signature, then merges the batch.
 */
import type { Logger } from '@libp2p/interface'
import { decodeOp, type MetaStore } from '../meta/index.js'
import type { ApplyReport, JournalReplica, WireOp } from '../net/index.js'
import type { AbortOptions } from '../util/abort.js'

export interface MetaReplicaInit {
  /** This device's id (its own ops are never taken from peers). */
  deviceId: string
  /**
   * Admits a connected peer (it proved the swarm key) before its own ops are applied, so a pull
   * that races the admission on `peer:online` is not refused (daemon/admission.ts).
   */
  admit?: (peer: string) => Promise<unknown>
}

type Meta = Pick<MetaStore, 'versionVector' | 'readOps' | 'applyRemote' | 'onOps'>

/** Ed25519 signatures are 64 bytes. */
const SIG_BYTES = 64

export class MetaReplica implements JournalReplica {
  readonly #meta: Meta
  readonly #init: MetaReplicaInit
  readonly #log: Logger
  #vector = new Map<string, number>()
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

  async applyOps (ops: WireOp[], peer: string, options: AbortOptions = {}): Promise<ApplyReport> {
    const report: ApplyReport = { applied: 0, duplicates: 0, refused: [] }
    const next = new Map<string, number>()
    const accepted: WireOp[] = []
    for (const w of ops) {
      const refuse = (reason: string): void => { report.refused.push({ author: w.author, seq: w.seq, reason }) }
      const held = this.#vector.get(w.author) ?? 0
      if (w.seq <= held) { report.duplicates++; continue }
      if (w.author === this.#init.deviceId) { refuse('own op this device lacks'); continue }
      const expected = next.get(w.author) ?? held + 1
      if (w.seq !== expected) { refuse(w.seq < expected ? 'repeated in the batch' : 'gap'); continue }
      if (w.sig.byteLength !== SIG_BYTES) { refuse('malformed: bad signature length'); continue }
      // The body is what meta decodes and applies: it must name the author and seq the wire says.
      let op
      try {
        op = decodeOp(w.body)
      } catch (err) {
        refuse(`malformed: ${(err as Error).message}`)
        continue
      }
      if (op.author !== w.author || op.seq !== w.seq) { refuse('forged: the signed body names another author or seq'); continue }
      next.set(w.author, w.seq + 1)
      accepted.push(w)
    }
    if (accepted.length === 0) return report
    if (this.#init.admit != null && accepted.some(w => w.author === peer)) await this.#init.admit(peer)
    // meta checks admission and signatures, orders the batch (hlc, author, seq) and merges it.
    const merged = await this.#meta.applyRemote(accepted.map(w => ({ body: w.body, sig: w.sig })), options)
    const refused = new Set<string>()
    for (const r of merged.refused) {
      refused.add(`${r.seq}@${r.author}`)
      report.refused.push({ author: r.author, seq: r.seq, reason: benign(r.reason) })
    }
    for (const w of accepted) {
      if (refused.has(`${w.seq}@${w.author}`)) continue
      report.applied++
      this.#grow(w.author, w.seq)
    }
    report.duplicates += merged.duplicates
    if (report.refused.length > 0) this.#log.trace('from %s: %d applied, %d refused (first: %s)', peer, report.applied, report.refused.length, report.refused[0].reason)
    return report
  }
}

/**
 * Meta's reason as the protocol reads it: a gap (pull first) and an author whose admission has not
 * arrived yet ('late': ordered once it has) are not the sender's fault; anything else is logged.
 */
function benign (reason: string): string {
  if (reason.startsWith('gap')) return 'gap'
  if (reason.startsWith('untrusted')) return 'late'
  if (reason.startsWith('bad signature')) return `forged: ${reason}`
  return reason
}
