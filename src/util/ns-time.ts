/**
 * Signed nanosecond times (bigint) ↔ (seconds, nanoseconds) pairs of exact JS numbers, as SQLite
 * rows and FUSE attributes hold them. Seconds are floored, so times before 1970 split correctly.
 */
const NS_PER_S = 1_000_000_000n

/** Splits signed ns into seconds (floored) and 0 ≤ nanoseconds < 1e9. */
export function splitNs (ns: bigint): [number, number] {
  let s = ns / NS_PER_S
  let n = ns - s * NS_PER_S
  if (n < 0n) { n += NS_PER_S; s -= 1n }
  return [Number(s), Number(n)]
}

/** The inverse of splitNs. */
export function joinNs (s: number, n: number): bigint {
  return BigInt(s) * NS_PER_S + BigInt(n)
}
