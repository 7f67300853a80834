/**
 * Device removal (issue 15): `palm remove DEVICE` logs a signed `removeDevice` op; every device
 * that holds the op refuses the device's connections (the net layer's gater asks `isRemoved`),
 * ops (meta refuses them at ingest) and so its fragment and journal requests, and hangs up on it.
 * `device:removed` fires once per removed device, for this device's removals and for those that
 * arrive by replication, so that the repair issue's rebuild can be wired to it.
 *
 * `palm remove` then re-keys the swarm (remove.ts, key-rotation.ts), so that the swarm key the
 * removed device holds opens nothing once the members have the new one (docs/security.md).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { TypedEventEmitter } from '@libp2p/interface'
import { InvalidArgumentError } from '../errors.js'
import type { MetaStore } from '../meta/index.js'
import type { PalmNode } from '../net/index.js'
import type { Logger } from '../util/logger.js'

export interface DeviceRemovalEvents {
  /** A device was removed from the swarm (its id). */
  'device:removed': CustomEvent<string>
}

export class DeviceRemovals extends TypedEventEmitter<DeviceRemovalEvents> {
  readonly #removed = new Set<string>()
  readonly #meta: Pick<MetaStore, 'removeDevice' | 'removedDevices' | 'onChange'>
  readonly #net: () => Pick<PalmNode, 'hangUp'> | undefined
  readonly #log: Logger
  #refreshing?: Promise<void>
  #again = false
  #unsubscribe?: () => void

  constructor (meta: Pick<MetaStore, 'removeDevice' | 'removedDevices' | 'onChange'>, net: () => Pick<PalmNode, 'hangUp'> | undefined, log: Logger) {
    super()
    this.#meta = meta
    this.#net = net
    this.#log = log
  }

  /** Loads the removals the journal holds and follows new ones (a batch that changes membership records). */
  async start (): Promise<void> {
    for (const id of await this.#meta.removedDevices()) this.#removed.add(id)
    this.#unsubscribe = this.#meta.onChange((c) => { if (c.members === true) this.refresh() })
  }

  stop (): void {
    this.#unsubscribe?.()
  }

  isRemoved (id: string): boolean {
    return this.#removed.has(id)
  }

  list (): string[] {
    return [...this.#removed].sort()
  }

  /** Re-reads the removed devices (one read at a time; changes during a read trigger one more). */
  refresh (): void {
    if (this.#refreshing != null) { this.#again = true; return }
    this.#refreshing = (async () => {
      do {
        this.#again = false
        for (const id of await this.#meta.removedDevices()) {
          if (this.#removed.has(id)) continue
          this.#removed.add(id)
          this.#log('device %s was removed from the swarm: its connections, ops and fragments are refused from now on', id)
          await this.#net()?.hangUp(id).catch((err: Error) => { this.#log.error('could not hang up on removed device %s: %s', id, err.message) })
          this.safeDispatchEvent('device:removed', { detail: id })
        }
      } while (this.#again)
    })().catch((err: Error) => { this.#log.error('could not read the removed devices from the journal: %s', err.message) })
      .finally(() => { this.#refreshing = undefined })
  }

  /** Removes `id` with a signed op (this device may not remove itself). */
  async remove (id: string, self: string): Promise<void> {
    try {
      peerIdFromString(id)
    } catch (err) {
      throw new InvalidArgumentError(`${id} is not a device id; \`palm peers\` lists the devices with their ids`, { cause: err })
    }
    if (id === self) throw new InvalidArgumentError('a device cannot remove itself; run `palm remove` on another device of the swarm')
    await this.#meta.removeDevice(id)
    this.refresh()
    await this.#refreshing
  }
}
