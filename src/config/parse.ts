/**
 * Parsers for option values given as text (flags, env, config file): sizes ("10G", "500M"),
 * durations ("5s", "200ms"), policies ("4-of-6"). They return undefined on bad input; the caller
 * collects every problem into one InvalidConfigError.
 */

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1, k: 2 ** 10, kb: 2 ** 10, kib: 2 ** 10, m: 2 ** 20, mb: 2 ** 20, mib: 2 ** 20,
  g: 2 ** 30, gb: 2 ** 30, gib: 2 ** 30, t: 2 ** 40, tb: 2 ** 40, tib: 2 ** 40
}

/** "10G" → 10737418240 (binary units; "10GB" and "10GiB" mean the same). */
export function parseSize (text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text >= 0 ? text : undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text)
  if (m == null) return undefined
  const unit = SIZE_UNITS[m[2].toLowerCase()]
  if (unit === undefined) return undefined
  const value = Math.round(Number(m[1]) * unit)
  return Number.isSafeInteger(value) ? value : undefined
}

/** 10737418240 → "10 GiB". */
export function formatSize (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let v = bytes
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, '': 1 }

/** "5s" → 5000, "200ms" → 200, "1.5m" → 90000; a bare number is milliseconds. */
export function parseDuration (text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|)\s*$/.exec(text)
  if (m == null) return undefined
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2]])
}

export interface PolicyValue {
  k: number
  n: number
}

/** "4-of-6" (also "4/6", "4of6") → { k: 4, n: 6 }, with 1 ≤ k ≤ n ≤ 255. */
export function parsePolicy (text: string | PolicyValue): PolicyValue | undefined {
  if (typeof text === 'object' && text != null) return validPolicy(text.k, text.n)
  if (typeof text !== 'string') return undefined
  const m = /^\s*(\d+)\s*(?:-?of-?|\/)\s*(\d+)\s*$/i.exec(text)
  if (m == null) return undefined
  return validPolicy(Number(m[1]), Number(m[2]))
}

function validPolicy (k: number, n: number): PolicyValue | undefined {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 1 || n < k || n > 255) return undefined
  return { k, n }
}

export function formatPolicy (p: PolicyValue): string {
  return `${p.k}-of-${p.n}`
}

export function parseBool (text: string | boolean): boolean | undefined {
  if (typeof text === 'boolean') return text
  const t = text.trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(t)) return true
  if (['0', 'false', 'no', 'off'].includes(t)) return false
  return undefined
}
