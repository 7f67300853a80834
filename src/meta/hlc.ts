/**
 * Hybrid logical clock packed into one 64-bit value of nanoseconds: `max(physical now, last + 1)`.
 * It never goes backwards, stays close to real time, and (hlc, author, seq) totally orders ops
 * across devices. A remote op's timestamp is folded in with `observe`, so a device never stamps an
 * op earlier than one it has already applied.
 */

/** A wall clock in nanoseconds with sub-millisecond resolution; it follows steps of the system clock. */
export function systemClock (): () => bigint {
  let base = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint()
  return () => {
    const t = base + process.hrtime.bigint()
    const wall = BigInt(Date.now()) * 1_000_000n
    const drift = t - wall
    // hrtime is monotonic, Date.now() follows NTP steps: re-anchor when they part by more than 2 ms.
    if (drift > 2_000_000n || drift < -2_000_000n) {
      base -= drift
      return wall
    }
    return t
  }
}

export class Hlc {
  readonly #clock: () => bigint
  #last: bigint

  constructor (clock: () => bigint, last = 0n) {
    this.#clock = clock
    this.#last = last
  }

  /** The last timestamp issued or observed. */
  get last (): bigint { return this.#last }

  /** Reads the physical clock (ns) without ticking. */
  physical (): bigint { return this.#clock() }

  /** A timestamp greater than every one issued or observed before; `physical` from `physical()`. */
  tick (physical: bigint = this.#clock()): bigint {
    this.#last = physical > this.#last ? physical : this.#last + 1n
    return this.#last
  }

  /** Folds in a timestamp seen on another device's op. */
  observe (remote: bigint): void {
    if (remote > this.#last) this.#last = remote
  }
}
