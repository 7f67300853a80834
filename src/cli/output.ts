/**
 * How the CLI talks to people: one clear line per error (what happened, what to do), stack traces
 * only with DEBUG=palm:*, JSON on request.
 */
import { formatSize } from '../config/parse.js'

export function debugEnabled (): boolean {
  const d = process.env.DEBUG ?? ''
  return /(^|,)\s*(palm(:\*|:cli)?|\*)\s*(,|$)/.test(d) || d.includes('palm:*')
}

/** Prints an error as one line (plus its stack under DEBUG) and returns the exit code. */
export function reportError (err: unknown): number {
  const e = err as any
  const message: string = typeof e?.message === 'string' && e.message.length > 0 ? e.message : String(err)
  process.stderr.write(`palm: ${message}\n`)
  if (debugEnabled() && e?.stack != null) process.stderr.write(`${String(e.stack)}\n`)
  if (debugEnabled() && e?.cause != null) process.stderr.write(`caused by: ${String(e.cause?.stack ?? e.cause)}\n`)
  return typeof e?.exitCode === 'number' ? e.exitCode : 1
}

export function printJson (value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

export function size (bytes: number): string {
  return formatSize(bytes)
}

export function ago (ms: number | null): string {
  if (ms == null) return 'never'
  if (ms < 1500) return 'just now'
  if (ms < 90_000) return `${Math.round(ms / 1000)} s ago`
  if (ms < 5_400_000) return `${Math.round(ms / 60_000)} min ago`
  return `${Math.round(ms / 3_600_000)} h ago`
}
