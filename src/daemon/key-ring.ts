/**
 * The swarm's network key after re-keying (docs/security.md, "Re-keying"): `<home>/swarm-keys.json`,
 * mode 0600 like swarm.key, replaced atomically (temp file, fsync, rename, fsync of the home).
 *
 *   { "version": 1, "epoch": 2, "key": "<64 hex>", "members": [ids], "removed": [ids] }
 *
 * swarm.key itself never changes: it is the epoch-0 network key and the source of the convergent
 * salt (a new salt would change every CID written from then on). Without this file the network key
 * is swarm.key (epoch 0). `members` are the devices the re-keying device knew as members (they may
 * fetch the key: key fetch, invite-exchange.ts); `removed` the removed devices it knew (never given
 * the key, refused like removed devices even where the removal op has not arrived yet).
 *
 * The pure parts (fingerprint, order, who gets the key, the record's wire form) are tested alone.
 */
import { createHash, randomBytes } from 'node:crypto'
import { open, readFile, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { InvalidConfigError } from '../errors.js'
import type { Refused } from '../net/index.js'

export const KEY_RING_FILE = 'swarm-keys.json'
const KEY_BYTES = 32
/** Most ids in one record's lists (bounds what a peer can make this device parse and keep). */
const MAX_IDS = 4096

export interface KeyRecord {
  epoch: number
  key: Uint8Array
  members: string[]
  removed: string[]
}

/** 16 hex digits naming a key in logs and in the journal's keyEpoch op; the key does not follow from it. */
export function keyId (key: Uint8Array): string {
  return createHash('sha256').update('palm/swarm-key-id/v1').update(key).digest('hex').slice(0, 16)
}

/**
 * True when `a` supersedes `b`: a higher epoch, or the same epoch made by two devices at once
 * (concurrent removals) and the higher fingerprint, so every device settles on one key.
 */
export function supersedes (a: Pick<KeyRecord, 'epoch' | 'key'>, b: Pick<KeyRecord, 'epoch' | 'key'>): boolean {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch
  return keyId(a.key) > keyId(b.key)
}

/** The record of a new re-keying after `current`: a fresh key for the members left. */
export function nextRecord (current: Pick<KeyRecord, 'epoch'>, members: string[], removed: string[]): KeyRecord {
  const out = new Set(removed)
  return {
    epoch: current.epoch + 1,
    key: new Uint8Array(randomBytes(KEY_BYTES)),
    members: [...new Set(members)].filter(id => !out.has(id)).sort(),
    removed: [...out].sort()
  }
}

/**
 * Whether `device`, which proved its device key, gets the current key: never a removed device
 * (`isRemoved`: the journal's view, or the record's list), only a member the re-keying named.
 */
export function grantFor (record: KeyRecord, device: string, isRemoved: (id: string) => boolean): Refused | undefined {
  if (isRemoved(device) || record.removed.includes(device)) {
    return { refused: 'removed', detail: `device ${device} was removed from this swarm; it gets no key` }
  }
  if (record.epoch === 0) return { refused: 'unknown', detail: 'this swarm was never re-keyed here: the key this device holds is the one it had (another swarm?)' }
  if (!record.members.includes(device)) {
    return { refused: 'unknown', detail: `device ${device} was not a member when the swarm was re-keyed (key epoch ${record.epoch}); join again with a new invite code (\`palm invite\`)` }
  }
  return undefined
}

function ids (v: unknown): string[] | undefined {
  if (!Array.isArray(v) || v.length > MAX_IDS) return undefined
  return v.every((x): x is string => typeof x === 'string' && x.length > 0 && x.length <= 128) ? v : undefined
}

/** The JSON form (file and key fetch). */
export function encodeRecord (r: KeyRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ version: 1, epoch: r.epoch, key: Buffer.from(r.key).toString('hex'), members: r.members, removed: r.removed }) + '\n')
}

/** The record in `bytes`; InvalidConfigError naming `source` when it is not one. */
export function decodeRecord (bytes: Uint8Array, source: string): KeyRecord {
  let v: any
  try {
    v = JSON.parse(new TextDecoder().decode(bytes))
  } catch (err) {
    throw new InvalidConfigError(`${source} is not a PALM swarm key record (not JSON); restore it from a backup, or move it away and join again with an invite code`, { cause: err, details: { source } })
  }
  const members = ids(v?.members)
  const removed = ids(v?.removed)
  const ok = v?.version === 1 && Number.isSafeInteger(v.epoch) && v.epoch >= 1 && typeof v.key === 'string' && /^[0-9a-f]{64}$/.test(v.key) && members != null && removed != null
  if (!ok) throw new InvalidConfigError(`${source} is not a PALM swarm key record this version understands; restore it from a backup, or move it away and join again with an invite code`, { details: { source } })
  return { epoch: v.epoch, key: new Uint8Array(Buffer.from(v.key, 'hex')), members, removed }
}

/** The record at `path`, undefined when there is none (the swarm was never re-keyed here). */
export async function loadKeyRecord (path: string): Promise<KeyRecord | undefined> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  return decodeRecord(bytes, path)
}

/** Replaces the record at `path` durably: on disk (file and directory entry) when this returns. */
export async function saveKeyRecord (path: string, r: KeyRecord): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    const fh = await open(tmp, 'wx', 0o600)
    try {
      await fh.writeFile(encodeRecord(r))
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  } finally {
    await rm(tmp, { force: true })
  }
  const dir = await open(dirname(path), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}
