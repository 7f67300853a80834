/**
 * The invites this device made (`<home>/invites.json`, 0600): each one's id, secret, expiry and,
 * once used, by whom. A used invite forgets its secret; used and expired ones are kept a week so
 * that a late attempt is told which it was, then dropped. Changes are serialised per file within
 * the process (the running daemon, or the in-process one when none runs, is the only writer).
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { InvalidConfigError } from '../errors.js'
import { INVITE_ID_BYTES, INVITE_SECRET_BYTES, type Refused } from '../net/index.js'
import { writeFileAtomic } from './home.js'

/** How long used and expired invites are remembered, ms. */
const KEEP_MS = 7 * 24 * 3_600_000

interface InviteRecord {
  id: string
  /** base64; removed once used. */
  secret?: string
  createdAt: string
  expiresAt: string
  usedAt?: string
  usedBy?: string
  usedByName?: string
}

export interface NewInvite { id: Uint8Array, secret: Uint8Array, expiresAtMs: number }

const queues = new Map<string, Promise<unknown>>()

export class InviteBook {
  readonly #path: string
  readonly #now: () => number

  constructor (path: string, now: () => number = Date.now) {
    this.#path = path
    this.#now = now
  }

  async #read (): Promise<InviteRecord[]> {
    let text: string
    try {
      text = await readFile(this.#path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    try {
      const v = JSON.parse(text)
      return Array.isArray(v?.invites) ? v.invites.filter((r: any) => typeof r?.id === 'string' && typeof r.expiresAt === 'string') : []
    } catch (err) {
      throw new InvalidConfigError(`${this.#path} is damaged (not JSON); remove it (outstanding invite codes stop working) and make new codes with \`palm invite\``, { cause: err })
    }
  }

  /** Runs `fn` on the records with no other change of this file in between; saves what it returns. */
  async #change<T> (fn: (records: InviteRecord[]) => { records?: InviteRecord[], result: T }): Promise<T> {
    const prev = queues.get(this.#path) ?? Promise.resolve()
    const run = prev.catch(() => {}).then(async () => {
      const { records, result } = fn(await this.#read())
      if (records != null) {
        const now = this.#now()
        const kept = records.filter(r => Date.parse(r.usedAt ?? r.expiresAt) + KEEP_MS > now)
        await writeFileAtomic(this.#path, JSON.stringify({ invites: kept }, null, 2) + '\n', 0o600)
      }
      return result
    })
    queues.set(this.#path, run)
    try {
      return await run
    } finally {
      if (queues.get(this.#path) === run) queues.delete(this.#path)
    }
  }

  /** Records a new invite valid for `ttlMs`. */
  async create (ttlMs: number): Promise<NewInvite> {
    const id = new Uint8Array(randomBytes(INVITE_ID_BYTES))
    const secret = new Uint8Array(randomBytes(INVITE_SECRET_BYTES))
    const now = this.#now()
    // The code carries whole seconds; round down so that the code never outlives the record.
    const expiresAtMs = Math.floor((now + ttlMs) / 1000) * 1000
    await this.#change(records => ({
      records: [...records, { id: Buffer.from(id).toString('hex'), secret: Buffer.from(secret).toString('base64'), createdAt: new Date(now).toISOString(), expiresAt: new Date(expiresAtMs).toISOString() }],
      result: undefined
    }))
    return { id, secret, expiresAtMs }
  }

  /** Why the invite cannot be used now, or undefined when it can. */
  #refusal (r: InviteRecord | undefined): Refused | undefined {
    if (r == null) return { refused: 'unknown', detail: 'it made no invite with this id (a forged code, or one of another swarm)' }
    if (r.usedAt != null) return { refused: 'used', detail: `it was used at ${r.usedAt} by device ${r.usedByName != null && r.usedByName !== '' ? `${r.usedByName} (${r.usedBy ?? '?'})` : r.usedBy ?? '?'}` }
    if (Date.parse(r.expiresAt) <= this.#now()) return { refused: 'expired', detail: `it expired at ${r.expiresAt}` }
    if (r.secret == null) return { refused: 'failed', detail: 'its record has no secret' }
    return undefined
  }

  /** The secret of a usable invite, or why it cannot be used. */
  async lookup (id: Uint8Array): Promise<{ secret: Uint8Array } | Refused> {
    const hex = Buffer.from(id).toString('hex')
    return await this.#change(records => {
      const r = records.find(x => x.id === hex)
      const refused = this.#refusal(r)
      return { result: refused ?? { secret: new Uint8Array(Buffer.from(r?.secret ?? '', 'base64')) } }
    })
  }

  /** Marks the invite used by `device` if it still can be used (one redemption only). */
  async claim (id: Uint8Array, device: { id: string, name: string }): Promise<Refused | undefined> {
    const hex = Buffer.from(id).toString('hex')
    return await this.#change(records => {
      const r = records.find(x => x.id === hex)
      const refused = this.#refusal(r)
      if (refused != null || r == null) return { result: refused }
      const used: InviteRecord = { id: r.id, createdAt: r.createdAt, expiresAt: r.expiresAt, usedAt: new Date(this.#now()).toISOString(), usedBy: device.id, usedByName: device.name }
      return { records: records.map(x => x === r ? used : x), result: undefined }
    })
  }
}
