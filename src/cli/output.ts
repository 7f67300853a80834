/**
 * How the CLI talks to people: one clear line per error (what happened, what to do), stack traces
 * only with DEBUG=palm:*, JSON on request.
 */
import { formatSize } from '../config/parse.js'

/** DEBUG as the user set it: the daemon turns its own logs on by setting DEBUG, which must not add stacks. */
const DEBUG_AT_START = process.env.DEBUG ?? ''

export function debugEnabled (): boolean {
  const d = DEBUG_AT_START
  return /(^|,)\s*(palm(:\*|:cli)?|\*)\s*(,|$)/.test(d) || d.includes('palm:*')
}

/**
 * Exit codes, the same for every command (README "Exit codes"): 0 done, 1 failed (or, for fsck, not
 * clean), 2 the command line is wrong (unknown command or flag, a missing or impossible value).
 */
export const EXIT_OK = 0
export const EXIT_FAILED = 1
export const EXIT_USAGE = 2

/**
 * Prints an error as one line (plus its stack under DEBUG) and returns the exit code. A usage error
 * is prefixed with the command (`palm mount: ...`); every other error with `palm:`.
 */
export function reportError (err: unknown, command?: string): number {
  const e = err as any
  const raw: string = typeof e?.message === 'string' && e.message.length > 0 ? e.message : String(err)
  const usage = e?.details?.usage === true
  // One line: a multi-line message (a log tail, a list of problems) keeps its first line unless DEBUG.
  const message = debugEnabled() ? raw : raw.split('\n').map(l => l.trim()).filter(l => l.length > 0).join('; ').replace(/:; /g, ': ')
  process.stderr.write(`${usage && command != null ? `palm ${command}` : 'palm'}: ${message}${usage && command != null ? ` (see \`palm help ${command}\`)` : ''}\n`)
  if (debugEnabled() && e?.stack != null) process.stderr.write(`${String(e.stack)}\n`)
  if (debugEnabled() && e?.cause != null) process.stderr.write(`caused by: ${String(e.cause?.stack ?? e.cause)}\n`)
  if (typeof e?.exitCode === 'number') return e.exitCode
  return usage ? EXIT_USAGE : EXIT_FAILED
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

/**
 * Makes writing to a closed pipe (`palm get CID | head -c 10`, `palm peers | head`) end the command
 * quietly, as `cat` does, instead of an unhandled EPIPE error.
 */
export function quietOnClosedPipe (): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
      throw err
    })
  }
}

/** Writes to stdout and waits until it is handed to the OS (rejects on EPIPE, which callers may ignore). */
export async function writeOut (data: string | Uint8Array): Promise<void> {
  await new Promise<void>((resolve, reject) => { process.stdout.write(data, err => { err == null ? resolve() : reject(err) }) })
}

/** ` --home DIR` when the home is not the default one (a flag or PALM_HOME chose it), for hints to copy. */
export function homeHint (home: string, defaultHome: string): string {
  return home === defaultHome ? '' : ` --home ${/^[\w@%+=:,./-]+$/.test(home) ? home : `'${home.replace(/'/g, "'\\''")}'`}`
}
