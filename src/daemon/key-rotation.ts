/**
 * Re-keying after a removal (docs/security.md, "Re-keying"). `rotate()` makes a new network key
 * for the members left, keeps it in the home (key-ring.ts), records its epoch in the journal (a
 * signed `keyEpoch` op naming the epoch and the key's fingerprint), makes new connections need it,
 * and hangs up on every peer. Each peer then redials, fails the handshake with its old key, and
 * asks a device it dialled for the current key (the key fetch, net's invite-exchange.ts), proving
 * its device key; so does a member that was offline, when it returns. A device gets the key only
 * when the re-keying named it a member and no removal names it; a key is taken only from a device
 * this one's journal admits and does not know removed, and only when it supersedes the one held.
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
  meta: Pick<MetaStore, 'admittedDevices' | 'removedDevices' | 'recordKeyEpoch' | 'keyEpoch'>
  /** Removed in this device's journal. */
  isRemoved: (id: string) => boolean
  net: () => Pick<PalmNode, 'setSwarmKey' | 'hangUp' | 'connectedPeers'> | undefined
  log: Logger
}

export class KeyRotation extends TypedEventEmitter<KeyRotationEvents> {
  readonly #c: KeyRotationComponents
  #record: KeyRecord
  #queue: Promise<unknown> = Promise.resolve()
  readonly #asked = new Map<string, number>()
  #fetching = 0

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
      // Open connections were made with the old key: closing them makes every peer redial, fail
      // the handshake, and fetch the new key.
      await this.#useKey(next.key)
      this.safeDispatchEvent('key:changed', { detail: { epoch: next.epoch, keyId: id, from: this.#c.deviceId } })
      return { epoch: next.epoch, keyId: id }
    })
  }

  /** New connections need `key`; every connection made before is closed. */
  async #useKey (key: Uint8Array): Promise<void> {
    const net = this.#c.net()
    if (net == null) return
    net.setSwarmKey(key)
    for (const peer of net.connectedPeers()) {
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
      // Connections made with the old key (a removed device may hold it) end; members redial.
      await this.#useKey(r.key)
      this.safeDispatchEvent('key:changed', { detail: { epoch: r.epoch, keyId: id, from: got.from } })
      return true
    })
  }
}
