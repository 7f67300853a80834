/**
 * Progress of long commands (fsck, gc) on stderr, so stdout keeps only the result: on a terminal a
 * bar redrawn in place with counts and an ETA; otherwise plain lines; with --json one JSON object a
 * line. Plain and JSON lines start after a second and come at most every few seconds, so quick runs
 * (and scripts reading stderr) stay quiet.
 */
import type { ProgressEvent } from '../daemon/control-api.js'

export type ProgressMode = 'tty' | 'plain' | 'json'

export interface ProgressReporter {
  onProgress: (p: ProgressEvent) => void
  /** Clears the bar (terminal) and, when any line was shown, ends with the final count. */
  done: () => void
}

/** Plain and JSON lines: none before this, then at most one per PLAIN_EVERY_MS. */
const QUIET_FIRST_MS = 1000
const PLAIN_EVERY_MS = 5000
const TTY_EVERY_MS = 100
const BAR_WIDTH = 24

/** "42 s", "3 min", "1 h 5 min". */
export function formatEta (ms: number): string {
  const s = Math.ceil(ms / 1000)
  if (s < 90) return `${s} s`
  const min = Math.round(s / 60)
  return min < 60 ? `${min} min` : `${Math.floor(min / 60)} h${min % 60 > 0 ? ` ${min % 60} min` : ''}`
}

/** The remaining time at the rate so far, or undefined before there is a rate. */
export function etaMs (p: ProgressEvent, elapsedMs: number): number | undefined {
  if (p.done <= 0 || p.total <= 0 || elapsedMs <= 0) return undefined
  return Math.max(0, (p.total - p.done) * elapsedMs / p.done)
}

/** One line: "fsck: checking stripes [#####-----] 120/5000 stripes (2%), ETA 18 s". */
export function progressLine (p: ProgressEvent, elapsedMs: number, bar: boolean): string {
  const share = p.total > 0 ? Math.min(1, p.done / p.total) : 0
  const filled = Math.round(share * BAR_WIDTH)
  const drawn = bar ? ` [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]` : ''
  const eta = etaMs(p, elapsedMs)
  const count = p.total > 0 ? `${p.done}/${p.total} ${p.unit} (${Math.floor(share * 100)}%)` : `${p.done} ${p.unit}`
  return `${p.task}: ${p.phase}${drawn} ${count}${eta != null && p.done < p.total ? `, ETA ${formatEta(eta)}` : ''}`
}

export function progressMode (json: boolean, stream: { isTTY?: boolean } = process.stderr): ProgressMode {
  return json ? 'json' : stream.isTTY === true ? 'tty' : 'plain'
}

export function createProgress (mode: ProgressMode, write: (s: string) => void = (s) => { process.stderr.write(s) }, now: () => number = Date.now): ProgressReporter {
  const started = now()
  let lastShown = -Infinity
  let shown: ProgressEvent | undefined
  let latest: ProgressEvent | undefined
  const show = (p: ProgressEvent): void => {
    const elapsed = now() - started
    if (mode === 'tty') write(`\r\x1b[2K${progressLine(p, elapsed, true)}`)
    else if (mode === 'plain') write(progressLine(p, elapsed, false) + '\n')
    else write(JSON.stringify({ progress: { ...p, elapsedMs: elapsed, etaMs: etaMs(p, elapsed) ?? null } }) + '\n')
    shown = p
    lastShown = now()
  }
  return {
    onProgress: (p) => {
      latest = p
      const t = now()
      if (mode === 'tty' ? t - lastShown >= TTY_EVERY_MS : t - started >= QUIET_FIRST_MS && t - lastShown >= PLAIN_EVERY_MS) show(p)
    },
    done: () => {
      if (shown == null || latest == null) return
      if (mode === 'tty') write('\r\x1b[2K')
      else if (latest !== shown) show(latest)
    }
  }
}
