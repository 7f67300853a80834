/**
 * The JournalReplica that journal replication (net) needs, over this device's MetaStore. It keeps
 * the version vector in memory (loaded at start, grown by local commits and applied batches), pages
 * ops out of the log for pulls, and checks what arrives before meta sees it: no duplicate, no own
 * op, no seq skipped, a signature of the right length or none. Meta decodes each op once from its
 * signed body, refuses one whose body names another author or seq than the wire says, checks that
 * the author was admitted (an `admit` op signed by a member: daemon/admission.ts) and that each op
 * is sealed (its signature, or the chain of `prev` hashes to a signed op: meta/seal.ts), then
 * merges the batch. Every run of an author's ops served here ends on a seal, so that it verifies.
 */
import type { Logger } from '@libp2p/interface'
import { SEAL_MAX_OPS, type MetaStore } from '../meta/index.js'
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
/** The signature of an op that is not a seal (its seal vouches for it): none. */
const NO_SIG = new Uint8Array(0)

export class MetaReplica implements JournalReplica {
  readonly #meta: Meta
  readonly #init: MetaReplicaInit
  readonly #log: Logger
  #vector = new Map<string, number>()
  /** Author → highest seq handed to meta by applyOps calls that have not settled yet. */
  readonly #inFlight = new Map<string, number>()
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

  /**
   * Ops of `author` after `after`, ending on a seal (a signed op, which vouches for the unsigned
   * ones before it): up to the last seal within `limit` and `maxBytes`, or past them to the first
   * seal (at most SEAL_MAX_OPS more ops: writers seal that often). Ops after the last seal held
   * here (the rest of their batch has not arrived) are not served.
   */
  async readOps (author: string, after: number, limit: number, maxBytes: number, options: AbortOptions = {}): Promise<WireOp[]> {
    const out: WireOp[] = []
    let bytes = 0
    let sealed = 0
    for (;;) {
      const page = await this.#meta.readOps(author, after, sealed === 0 ? Math.max(limit - out.length, SEAL_MAX_OPS) : limit - out.length, options)
      for (const o of page) {
        const size = o.body.length + (o.sig?.byteLength ?? 0)
        // Past the limits: stop at the last seal, if one was reached.
        if (sealed > 0 && (out.length >= limit || bytes + size > maxBytes)) return out.slice(0, sealed)
        out.push({ author, seq: o.seq, body: o.body, sig: o.sig ?? NO_SIG })
        bytes += size
        if (o.sig != null) sealed = out.length
        else if (out.length - sealed > 4 * SEAL_MAX_OPS) {
          // An unsigned journal (tests, or written before keys), or a damaged one: nothing a peer could verify.
          if (!this.#unsignedLogged) this.#log.error('ops %d…%d@%s carry no seal: they and later ops of that device cannot be replicated', out[sealed].seq, o.seq, author)
          this.#unsignedLogged = true
          return out.slice(0, sealed)
        }
      }
      if (page.length === 0 || (sealed > 0 && out.length >= limit)) return out.slice(0, sealed)
      after = page[page.length - 1].seq
    }
  }

  /** The journal's version vector is read after the open batch commits: reading it commits what waits. */
  async commitPending (options: AbortOptions = {}): Promise<void> {
    await this.#meta.versionVector(options)
  }

  onLocalOps (listener: (ops: WireOp[]) => void): () => void {
    return this.#meta.onOps((ops) => {
      const wire: WireOp[] = []
      // A committed batch of local ops ends on its seal (an unsigned journal's ops have none: not sent).
      if (ops.length === 0 || ops[ops.length - 1].sig == null) return
      for (const o of ops) wire.push({ author: o.op.author, seq: o.op.seq, body: o.body, sig: o.sig ?? NO_SIG })
      listener(wire)
    })
  }

  /**
   * Checks the batch against what is held and in flight (synchronously, before any await: calls
   * are checked in the order they are made), then hands it to meta. A call may start while an
   * earlier one is still being applied (journal-sync applies the next batch while the one before
   * it commits): its ops follow the earlier call's, which meta merges first.
   */
  async applyOps (ops: WireOp[], peer: string, options: AbortOptions = {}): Promise<ApplyReport> {
    const report: ApplyReport = { applied: 0, duplicates: 0, refused: [] }
    const next = new Map<string, number>()
    const accepted: WireOp[] = []
    for (const w of ops) {
      const refuse = (reason: string): void => { report.refused.push({ author: w.author, seq: w.seq, reason }) }
      const held = this.#vector.get(w.author) ?? 0
      if (w.seq <= held) { report.duplicates++; continue }
      if (w.author === this.#init.deviceId) { refuse('own op this device lacks'); continue }
      // An op of a call in flight counts as held while that call runs (a duplicate if sent again).
      const after = Math.max(held, this.#inFlight.get(w.author) ?? 0)
      if (!next.has(w.author) && w.seq <= after) { report.duplicates++; continue }
      const expected = next.get(w.author) ?? after + 1
      if (w.seq !== expected) { refuse(w.seq < expected ? 'repeated in the batch' : 'gap'); continue }
      if (w.sig.byteLength !== SIG_BYTES && w.sig.byteLength !== 0) { refuse('malformed: bad signature length'); continue }
      next.set(w.author, w.seq + 1)
      accepted.push(w)
    }
    if (accepted.length === 0) return report
    for (const [author, n] of next) this.#inFlight.set(author, n - 1)
    const notApplied = new Set<string>()
    let settled = false
    try {
      if (this.#init.admit != null && accepted.some(w => w.author === peer)) await this.#init.admit(peer)
      // meta decodes each body (checking it names the wire's author and seq), checks admission and
      // seals, orders the batch (hlc, author, seq) and merges it after the calls made before.
      const merged = await this.#meta.applyRemote(accepted.map(w => w.sig.byteLength === 0 ? { body: w.body, author: w.author, seq: w.seq } : { body: w.body, sig: w.sig, author: w.author, seq: w.seq }), options)
      for (const r of merged.refused) {
        notApplied.add(`${r.seq}@${r.author}`)
        report.refused.push({ author: r.author, seq: r.seq, reason: benign(r.reason) })
      }
      // Ops after their author's last seal in this batch: neither applied nor the sender's fault; pulled again.
      for (const u of merged.unsealed) notApplied.add(`${u.seq}@${u.author}`)
      for (const w of accepted) {
        if (notApplied.size > 0 && notApplied.has(`${w.seq}@${w.author}`)) continue
        report.applied++
        this.#grow(w.author, w.seq)
      }
      report.duplicates += merged.duplicates
      settled = true
    } finally {
      // Settled: its ops are held now, or (some not applied, or it threw) the author's later ops in
      // flight leave a gap that meta refuses, and they are pulled again from the vector.
      for (const [author, n] of next) {
        const mine = n - 1
        if (!settled || notApplied.size > 0 || (this.#inFlight.get(author) ?? 0) <= mine) this.#inFlight.delete(author)
      }
    }
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
