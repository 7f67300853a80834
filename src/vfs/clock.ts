/**
 * Wall-clock time in signed nanoseconds, strictly increasing within this process so that two
 * changes in the same millisecond still get distinct mtimes (tools like make and rsync compare them).
 */
let last = 0n

/** Now, in nanoseconds since the epoch. */
export function nowNs (): bigint {
  const ms = performance.timeOrigin + performance.now()
  let ns = BigInt(Math.floor(ms)) * 1_000_000n + BigInt(Math.floor((ms % 1) * 1e6))
  if (ns <= last) ns = last + 1n
  last = ns
  return ns
}
