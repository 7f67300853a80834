/**
 * A memory budget for request frames in flight: a server reserves a frame's announced length
 * (from its length prefix, before any of the body is buffered) per peer and in total, and releases
 * it once the request is answered. A frame that does not fit is refused at once (its stream is
 * reset), so unfinished frames from members, however many streams and connections they open, hold
 * at most `perPeerBytes` each and `totalBytes` together.
 */
export interface FrameBudgetStats {
  inUseBytes: number
  peakBytes: number
  perPeerBytes: number
  totalBytes: number
  /** Frames refused for want of budget. */
  refused: number
}

export class FrameBudget {
  readonly #perPeer: number
  readonly #total: number
  readonly #byPeer = new Map<string, number>()
  #inUse = 0
  #peak = 0
  #refused = 0

  constructor (init: { perPeerBytes: number, totalBytes: number }) {
    this.#perPeer = init.perPeerBytes
    this.#total = init.totalBytes
  }

  /** Reserves `bytes` for `peer`: the release function, or undefined when over either budget. */
  reserve (peer: string, bytes: number): (() => void) | undefined {
    const held = this.#byPeer.get(peer) ?? 0
    if (held + bytes > this.#perPeer || this.#inUse + bytes > this.#total) {
      this.#refused++
      return undefined
    }
    this.#byPeer.set(peer, held + bytes)
    this.#inUse += bytes
    this.#peak = Math.max(this.#peak, this.#inUse)
    let released = false
    return () => {
      if (released) return
      released = true
      this.#inUse -= bytes
      const left = (this.#byPeer.get(peer) ?? bytes) - bytes
      if (left > 0) this.#byPeer.set(peer, left)
      else this.#byPeer.delete(peer)
    }
  }

  /** A human sentence for a refusal. */
  describe (peer: string, bytes: number): string {
    return `a frame of ${bytes} bytes from peer ${peer} is over the memory budget for request frames in flight (${this.#byPeer.get(peer) ?? 0} of ${this.#perPeer} bytes held for this peer, ${this.#inUse} of ${this.#total} in total); refused`
  }

  stats (): FrameBudgetStats {
    return { inUseBytes: this.#inUse, peakBytes: this.#peak, perPeerBytes: this.#perPeer, totalBytes: this.#total, refused: this.#refused }
  }
}
