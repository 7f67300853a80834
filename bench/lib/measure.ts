/**
 * Shared benchmark plumbing: medians, dd timing, dropping the page cache, interleaved rounds and
 * the table + JSON every benchmark prints and writes (bench/results/<name>.json).
 */
import { spawnSync } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** Seconds dd reports for one copy. */
export function dd (args: string[]): number {
  const r = spawnSync('dd', args, { encoding: 'utf8' })
  const m = /^(\d+) bytes .* copied, ([\d.]+) s/m.exec(r.stderr)
  if (r.status !== 0 || m == null) throw new Error(`dd ${args.join(' ')} failed: ${r.stderr}`)
  return Number(m[2])
}

/** Drops the kernel's page, dentry and inode caches (root only); false when not allowed. */
export function dropCaches (): boolean {
  spawnSync('sync')
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3')
    return true
  } catch {
    return false
  }
}

/** Wall-clock seconds one run of a command takes, to its exit; throws when it fails. */
export function timeProcess (cmd: string, args: string[]): number {
  const start = performance.now()
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`)
  return (performance.now() - start) / 1000
}

/** Writes `mib` MiB of random bytes to `file` (the source of sequential-write runs: incompressible, never in the page cache of the measured FS). */
export function writeRandomFile (file: string, mib: number): void {
  const fd = openSync(file, 'w')
  try {
    const buf = Buffer.alloc(1 << 20)
    for (let i = 0; i < mib; i++) writeSync(fd, randomFillSync(buf))
  } finally {
    closeSync(fd)
  }
}

/** `count` random buffers of `bytes` each (small-file contents). */
export const randomBuffers = (count: number, bytes: number): Buffer[] => Array.from({ length: count }, () => randomFillSync(Buffer.alloc(bytes)))

/**
 * Polls `done` every `intervalMs` until it holds; throws "`what` within N s" after `timeoutMs`.
 * (p-wait-for adds an abort listener per poll and keeps them all until it resolves: a warning
 * every long wait.)
 */
export async function waitUntil (what: string, timeoutMs: number, done: () => boolean | Promise<boolean>, intervalMs = 1000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!await done()) {
    if (performance.now() > deadline) throw new Error(`${what} within ${timeoutMs / 1000} s`)
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}

/** Seconds `fn` takes. */
export async function seconds (fn: () => unknown): Promise<number> {
  const start = performance.now()
  await fn()
  return (performance.now() - start) / 1000
}

export interface PairedMetric {
  /** What is measured, e.g. "seqWriteMBps". */
  key: string
  unit: string
  a: number[]
  b: number[]
  /** Lower is better (seconds): the ratio is b/a so that > 1 still means A is faster. */
  lowerIsBetter?: boolean
}

/** Prints `metric | A | B | ratio` and writes results/<name>.json with { a, b, ratio } per metric. */
export function reportPaired (name: string, labels: [string, string], metrics: PairedMetric[], extra: Record<string, unknown>): void {
  const results: Record<string, unknown> = {}
  const [la, lb] = labels
  console.log(`\n${'metric'.padEnd(18)} ${la.padStart(10)} ${lb.padStart(10)} ${'ratio'.padStart(7)}   runs (${la} / ${lb})`)
  for (const m of metrics) {
    const a = median(m.a)
    const b = median(m.b)
    const ratio = m.lowerIsBetter === true ? b / a : a / b
    results[m.key] = { [la]: round(a), [lb]: round(b), ratio: Math.round(ratio * 100) / 100, unit: m.unit, runs: { [la]: m.a.map(round), [lb]: m.b.map(round) } }
    console.log(`${m.key.padEnd(18)} ${fmt(a).padStart(10)} ${fmt(b).padStart(10)} ${ratio.toFixed(2).padStart(7)}   ${m.a.map(fmt).join(',')} / ${m.b.map(fmt).join(',')}`)
  }
  writeResults(name, { ...extra, ...results })
}

export function writeResults (name: string, value: Record<string, unknown>, opts: { quiet?: boolean } = {}): void {
  const dir = fileURLToPath(new URL('../../../bench/results/', import.meta.url))
  mkdirSync(dir, { recursive: true })
  const file = `${dir}${name}.json`
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), loadavg: loadavg(), ...value }, null, 2) + '\n')
  if (opts.quiet !== true) console.log(`\nwrote ${file}`)
}

function round (x: number): number {
  return x >= 100 ? Math.round(x) : Math.round(x * 100) / 100
}

function fmt (x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toFixed(2)
}
