/** The name a conflicting node gets beside the one that keeps the name (docs/journal.md, "Conflicts"). */

const NAME_MAX_BYTES = 255

/** `name (conflict DEVICE YYYY-MM-DD HHMMSS)`, cut to fit 255 bytes; DEVICE is the author's short id. */
export function conflictName (name: string, author: string, timeNs: bigint): string {
  const d = new Date(Number(timeNs / 1_000_000n))
  const p = (n: number): string => String(n).padStart(2, '0')
  const stamp = Number.isNaN(d.getTime())
    ? '0000-00-00 000000'
    : `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`
  const suffix = ` (conflict ${author.slice(-6)} ${stamp})`
  let base = name
  // Cut whole code points (never half a surrogate pair).
  const points = [...base]
  while (Buffer.byteLength(points.join('') + suffix) > NAME_MAX_BYTES) points.pop()
  base = points.join('')
  return base + suffix
}


/** Conflict names tried before a node is given up on (ops of one author within one second share a stamp). */
export const CONFLICT_NAMES = 100

/**
 * The first name free in a directory among `name` (when `plain`), then `conflictName(name)`,
 * `conflictName("name 2")`, … (`taken` says whether a name is used); undefined when all are taken.
 */
export function freeName (taken: (name: string) => boolean, name: string, author: string, timeNs: bigint, plain = true): string | undefined {
  if (plain && !taken(name)) return name
  for (let n = 1; n <= CONFLICT_NAMES; n++) {
    const alt = conflictName(n === 1 ? name : `${name} ${n}`, author, timeNs)
    if (!taken(alt)) return alt
  }
  return undefined
}
