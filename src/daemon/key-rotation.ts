/**
 * Re-keying after a removal (docs/security.md, "Re-keying"). `rotate()` makes a new network key
 * for the members left, keeps it in the home (key-ring.ts), records its epoch in the journal (a
 * signed `keyEpoch` op naming the epoch and the key's fingerprint), makes new connections need it,
 * and hangs up on every connected peer the re-keying does not name a member. Members stay
 * connected: the `keyEpoch` op reaches them by journal replication, tells them they are behind,
 * and they ask an online peer for the current key (the key fetch, net's invite-exchange.ts),
 * proving their device key. A member that was offline fails the handshake with its old key when
 * it returns and asks the device that refused it. A device gets the key only when the re-keying
 * named it a member and no removal names it; a key is taken only from a device this one's journal
 * admits and does not know removed, and only when it supersedes the one held.
 */
import { TypedEventEmitter } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { fetchSwarmKey, type FetchedKey, type KeyGrant, type PalmNode, type Refused } from '../net/index.js'
import { decodeRecord, encodeRecord, grantFor, keyId, loadKeyRecord, nextRecord, saveKeyRecord, supersedes, type KeyRecord } from './key-ring.js'
import type { MetaStore } from '../meta/index.js'
import type { Logger } from '../util/logger.js'
import type { PrivateKey } from '@libp2p/interface'

/** A device that fails the key check is asked for the key at most this often per address, ms. */
const FETCH_COOLDOWN_MS = 3_000
/** Key fetches at once (each a short TCP exchange). */
const MAX_FETCHES = 4
/** Behind the journal's epoch: the online peers are asked again at most this often, ms. */
const BEHIND_RETRY_MS = 10_000

export interface KeyRotationEvents {
  /** The network key changed (this device re-keyed, or fetched a newer key). */
  'key:changed': CustomEvent<{ epoch: number, keyId: string, from: string }>
}

export interface KeyRotationComponents {
  /** The key record file (key-ring.ts). */
  path: string
  /** swarm.key: the epoch-0 network key. */
  swarmKey: Uint8Array
  deviceId: string
  deviceKey: PrivateKey
  meta: Pick<MetaStore, 'admittedDevices' | 'removedDevices' | 'recordKeyEpoch' | 'keyEpoch' | 'onChange'>
  /** Removed in this device's journal. */
  isRemoved: (id: string) => boolean
  net: () => (Pick<PalmNode, 'setSwarmKey' | 'hangUp' | 'connectedPeers'> & { membership: Pick<PalmNode['membership'], 'peers'> }) | undefined
  log: Logger
}

export class KeyRotation extends TypedEventEmitter<KeyRotationEvents> {
  readonly #c: KeyRotationComponents
  #record: KeyRecord
  #queue: Promise<unknown> = Promise.resolve()
  readonly #asked = new Map<string, number>()
  #fetching = 0
  #unsubscribe?: () => void
  #behind?: { epoch: number, keyId: string, atMs: number }

  constructor (components: KeyRotationComponents) {
    super()
    this.#c = components
    this.#record = { epoch: 0, key: components.swarmKey, members: [], removed: [] }
  }

  /** Reads the key record of the home, if the swarm was ever re-keyed here. */
  async load (): Promise<void> {
    const r = await loadKeyRecord(this.#c.path)
    if (r != null) this.#record = r
  }

  /** Follows the journal: a `keyEpoch` op newer than this device's key makes it fetch the key. */
  start (): void {
    this.#unsubscribe = this.#c.meta.onChange((c) => { if (c.members === true) void this.#checkJournal() })
    void this.#checkJournal()
  }

  stop (): void {
    this.#unsubscribe?.()
  }

  async #checkJournal (): Promise<void> {
    try {
      const j = await this.#c.meta.keyEpoch()
      const mine = { epoch: this.#record.epoch, keyId: keyId(this.#record.key) }
      if (j == null || j.epoch < mine.epoch || (j.epoch === mine.epoch && j.keyId <= mine.keyId)) return
      const now = Date.now()
      const b = this.#behind
      if (b != null && b.epoch === j.epoch && b.keyId === j.keyId && now - b.atMs < BEHIND_RETRY_MS) return
      const online = (this.#c.net()?.membership.peers() ?? []).filter(p => p.online)
      // Nobody to ask yet: the next membership change, or a refused dial, tries again.
      if (online.length === 0) return
      this.#behind = { ...j, atMs: now }
      this.#c.log('the journal records key epoch %d (%s), this device holds %d: asking the online devices', j.epoch, j.keyId, mine.epoch)
      for (const p of online) {
        for (const addr of p.addrs.filter(a => a.includes('/tcp/'))) {
          const took = await this.fetchFrom(addr).catch((err: Error) => { this.#c.log('no key from %s at %s: %s', p.id, addr, err.message); return false })
          const caughtUp = this.#record.epoch > j.epoch || (this.#record.epoch === j.epoch && keyId(this.#record.key) >= j.keyId)
          if (took || caughtUp) return
        }
      }
    } catch (err) {
      this.#c.log.error('could not compare the key epoch with the journal: %s', (err as Error).message)
    }
  }

  /** The key new connections need. */
  networkKey (): Uint8Array {
    return this.#record.key
  }

  /** The current epoch and record (for invites: a joiner gets the current key). */
  current (): KeyRecord {
    return { ...this.#record, members: [...this.#record.members], removed: [...this.#record.removed] }
  }

  /** Named removed by the current re-keying (refused even before the removal op arrives here). */
  excludes (id: string): boolean {
    return this.#record.removed.includes(id)
  }

  /** Runs `fn` after every earlier change (one change of the record at a time). */
  async #serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn)
    this.#queue = run.catch(() => {})
    return await run
  }

  /** Re-keys the swarm now; resolves when the new key is on disk and in use here. */
  async rotate (): Promise<{ epoch: number, keyId: string }> {
    return await this.#serial(async () => {
      const removed = [...new Set([...await this.#c.meta.removedDevices(), ...this.#record.removed])]
      // Past the journal's latest epoch too: a re-keying by another device this one has not met yet.
      const epoch = Math.max(this.#record.epoch, (await this.#c.meta.keyEpoch())?.epoch ?? 0)
      const next = nextRecord({ epoch }, [...await this.#c.meta.admittedDevices(), this.#c.deviceId], removed)
      await saveKeyRecord(this.#c.path, next)
      this.#record = next
      const id = keyId(next.key)
      await this.#c.meta.recordKeyEpoch(next.epoch, id)
      this.#c.log('re-keyed the swarm: key epoch %d (%s) for %d members; the other devices fetch it when they redial', next.epoch, id, next.members.length)
      // Members keep their connections and learn of the new key through the journal.
      await this.#useKey(next)
      this.safeDispatchEvent('key:changed', { detail: { epoch: next.epoch, keyId: id, from: this.#c.deviceId } })
      return { epoch: next.epoch, keyId: id }
    })
  }

  /** New connections need `r.key`; open connections of devices `r` does not name members are closed. */
  async #useKey (r: KeyRecord): Promise<void> {
    const net = this.#c.net()
    if (net == null) return
    net.setSwarmKey(r.key)
    const members = new Set(r.members)
    for (const peer of net.connectedPeers()) {
      if (members.has(peer)) continue
      await net.hangUp(peer).catch((err: Error) => { this.#c.log.error('could not hang up on %s after the swarm key changed: %s', peer, err.message) })
    }
  }

  /** The key exchange's question: does `device` get the current key? */
  async keyFor (device: string): Promise<{ grant: KeyGrant } | Refused> {
    const r = this.#record
    const refused = grantFor(r, device, this.#c.isRemoved)
    if (refused != null) {
      this.#c.log('refused device %s the swarm key: %s', device, refused.detail)
      return refused
    }
    this.#c.log('handing the swarm key of epoch %d to member %s', r.epoch, device)
    return { grant: { epoch: r.epoch, swarmKey: r.key, extra: encodeRecord(r) } }
  }

  /** A device dialled at `addr` holds another key: ask it for its key (rate-limited, in the background). */
  mismatch (addr: string): void {
    const now = Date.now()
    if (now - (this.#asked.get(addr) ?? 0) < FETCH_COOLDOWN_MS || this.#fetching >= MAX_FETCHES) return
    this.#asked.set(addr, now)
    if (this.#asked.size > 1024) this.#asked.clear()
    this.#fetching++
    void this.fetchFrom(addr)
      .catch((err: Error) => { this.#c.log('no newer swarm key from %s: %s', addr, err.message) })
      .finally(() => { this.#fetching-- })
  }

  /** Asks the device at `addr` for its key and takes it when it supersedes this device's; true if taken. */
  async fetchFrom (addr: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const got = await fetchSwarmKey(multiaddr(addr), this.#c.deviceKey, this.#record.epoch, options)
    return await this.adopt(got)
  }

  /** Takes a fetched key if it comes from a device this journal admits and supersedes the current one. */
  async adopt (got: FetchedKey): Promise<boolean> {
    return await this.#serial(async () => {
      if (this.#c.isRemoved(got.from) || this.excludes(got.from)) {
        this.#c.log('ignoring a swarm key from removed device %s', got.from)
        return false
      }
      if (!(await this.#c.meta.admittedDevices()).includes(got.from)) {
        this.#c.log('ignoring a swarm key from %s: this journal does not admit that device', got.from)
        return false
      }
      const r = decodeRecord(got.extra, `the key record from ${got.from}`)
      if (r.epoch !== got.epoch || Buffer.compare(r.key, got.swarmKey) !== 0) {
        this.#c.log('ignoring a swarm key from %s: its record names another key', got.from)
        return false
      }
      if (!supersedes(r, this.#record)) return false
      await saveKeyRecord(this.#c.path, r)
      this.#record = r
      const id = keyId(r.key)
      this.#c.log('took the swarm key of epoch %d (%s) from %s', r.epoch, id, got.from)
      // Connections of devices that are no members (a removed device under a new id) end.
      await this.#useKey(r)
      this.safeDispatchEvent('key:changed', { detail: { epoch: r.epoch, keyId: id, from: got.from } })
      return true
    })
  }
}
