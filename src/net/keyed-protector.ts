/**
 * The swarm-key gate with a key that can change while the node runs (re-keying after a removal,
 * docs/security.md "Re-keying"). It wraps one SwarmProtector per key, built through its own
 * constructor: new connections use the newest key, handshakes already running finish under the
 * key they started with, and connections already open stay open (noise authenticated them).
 *
 * An outbound handshake that fails the key check means the dialled device holds another key: this
 * one is behind a re-keying (or the other one is). `onKeyMismatch` gets the dialled address, so the
 * layer above can ask that device for the current key (invite-exchange.ts, "Key fetch").
 */
import { PermissionError } from '../errors.js'
import { SwarmProtector, type SwarmProtectorInit } from './protector.js'
import type { AbortOptions, ConnectionProtector, MessageStream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface KeyedProtectorInit extends SwarmProtectorInit {
  /** An outbound connection to `addr` failed the key check (the other device holds another key). */
  onKeyMismatch?: (addr: string) => void
}

export class KeyedProtector implements ConnectionProtector {
  readonly #init: KeyedProtectorInit
  #current: SwarmProtector
  #key: Uint8Array
  readonly [Symbol.toStringTag] = 'palm:keyed-swarm-protector'

  constructor (init: KeyedProtectorInit) {
    this.#init = init
    this.#current = new SwarmProtector(init)
    this.#key = init.swarmKey
  }

  /** The key new connections need (the noise prologue follows it, libp2p-config.ts). */
  get swarmKey (): Uint8Array { return this.#key }

  /** New connections from now on need `swarmKey` (32 bytes; InvalidConfigError otherwise). */
  setKey (swarmKey: Uint8Array): void {
    this.#current = new SwarmProtector({ ...this.#init, swarmKey })
    this.#key = swarmKey
  }

  async protect (raw: MessageStream, options?: AbortOptions): Promise<MessageStream> {
    try {
      return await this.#current.protect(raw, options)
    } catch (err) {
      if (err instanceof PermissionError && raw.direction === 'outbound' && this.#init.onKeyMismatch != null) {
        const addr = (raw as unknown as { remoteAddr?: Multiaddr }).remoteAddr
        if (addr != null) this.#init.onKeyMismatch(addr.toString())
      }
      throw err
    }
  }
}
