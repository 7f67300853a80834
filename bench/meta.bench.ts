/**
 * Metadata journal benchmark: ops/s and main-thread CPU per op for create, lookup, getattr,
 * setattr, rename and setContent, sequential (each call awaits its commit) and with 16 concurrent
 * callers (group commit), on a file-backed journal; plus cold lookups (cache misses), sync()
 * latency and shared syncs, and 'every-commit' durability for comparison.
 * `node bench/run.mjs meta` → table + bench/results/meta.json. Main-thread CPU comes from
 * /proc/self/task/<pid>/stat (the event loop thread only, not the SQLite threadpool).
 */
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createMetaStore, type MetaStoreInit, type SqliteMetaStore } from '../src/meta/index.js'
import { ROOT_INO, type Attr, type StripeRef } from '../src/meta/types.js'

const CONCURRENCY = 16
const N = Number(process.env.META_BENCH_OPS ?? 4000)
const FILE = { type: 'file' as const, mode: 0o644, uid: 0, gid: 0 }
const TICK_US = 1e6 / 100 // USER_HZ

/** CPU time of the main (event loop) thread, in µs. */
function mainThreadCpuUs (): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * TICK_US
}

interface Row { op: string, mode: string, ops: number, opsPerSec: number, mainCpuUsPerOp: number, meanLatencyUs: number }

async function measure (op: string, mode: string, count: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<Row> {
  let next = 0
  let latency = 0
  const cpu0 = mainThreadCpuUs()
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < count; i = next++) {
      const s = performance.now()
      await fn(i)
      latency += performance.now() - s
    }
  }))
  const ms = performance.now() - t0
  const cpu = mainThreadCpuUs() - cpu0
  return { op, mode, ops: count, opsPerSec: Math.round(count / ms * 1000), mainCpuUsPerOp: Math.round(cpu / count * 10) / 10, meanLatencyUs: Math.round(latency / count * 1000) }
}

function stripeAt (index: number, tag: string): StripeRef {
  return { index, length: 4096, id: `s-${tag}-${index}`, k: 4, n: 6, codecId: 1, fragments: Array.from({ length: 6 }, (_, i) => `bafkreiexamplefragmentcid${tag}${index}x${i}`), holders: [] }
}

async function suite (dir: string, label: string, init: Partial<MetaStoreInit>): Promise<Row[]> {
  const s: SqliteMetaStore = createMetaStore({ path: join(dir, `${label}.db`), deviceId: '12D3KooWBenchDeviceIdOfTypicalLength0000000000000000', ...init })
  await s.start()
  const rows: Row[] = []
  try {
    for (const [mode, conc] of [['seq', 1], [`c${CONCURRENCY}`, CONCURRENCY]] as const) {
      const d = await s.create(ROOT_INO, `dir-${mode}`, { ...FILE, type: 'dir', mode: 0o755 })
      const files: Attr[] = []
      rows.push(await measure('create', mode, N, conc, async (i) => { files[i] = await s.create(d.ino, `file-${i}.txt`, FILE) }))
      if (init.syncMode === 'every-commit') continue
      rows.push(await measure('lookup (hot)', mode, N, conc, async (i) => await s.lookup(d.ino, `file-${i}.txt`)))
      rows.push(await measure('getattr (hot)', mode, N, conc, async (i) => await s.getattr(files[i].ino)))
      rows.push(await measure('setattr', mode, N, conc, async (i) => await s.setattr(files[i].ino, { mode: 0o600, mtimeNs: BigInt(i) })))
      rows.push(await measure('rename', mode, N, conc, async (i) => await s.rename(d.ino, `file-${i}.txt`, d.ino, `renamed-${i}.txt`)))
      rows.push(await measure('setContent (1 stripe)', mode, N, conc, async (i) => await s.setContent(files[i].ino, { size: 4096, stripeSize: 4096, stripes: [stripeAt(0, String(i))] })))
      rows.push(await measure('create+sync', mode, Math.min(N, 1000), conc, async (i) => { await s.create(d.ino, `synced-${i}`, FILE); await s.sync() }))
    }
  } finally {
    await s.stop()
  }
  return rows.map(r => ({ ...r, op: `${label}: ${r.op}` }))
}

/** Lookups that miss the cache: a cache of 1024 entries over a directory of N files. */
async function coldLookups (dir: string): Promise<Row[]> {
  const path = join(dir, 'cold.db')
  const a = createMetaStore({ path, deviceId: 'bench' })
  await a.start()
  const d = await a.create(ROOT_INO, 'd', { ...FILE, type: 'dir', mode: 0o755 })
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => {
    for (let i = w; i < N; i += CONCURRENCY) await a.create(d.ino, `f${i}`, FILE)
  }))
  await a.stop()
  const b = createMetaStore({ path, deviceId: 'bench', cacheEntries: 1024 })
  await b.start()
  try {
    const order = Array.from({ length: N }, (_, i) => (i * 7919) % N)
    return [
      await measure('cold: lookup (miss)', 'seq', N, 1, async (i) => await b.lookup(d.ino, `f${order[i]}`)),
      await measure('cold: lookup (miss)', `c${CONCURRENCY}`, N, CONCURRENCY, async (i) => await b.lookup(d.ino, `f${order[(i + 13) % N]}`))
    ]
  } finally {
    await b.stop()
  }
}

const dir = await mkdtemp(join(tmpdir(), 'palm-meta-bench-'))
try {
  const rows = [
    ...await suite(dir, 'on-sync', {}),
    ...await suite(dir, 'every-commit', { syncMode: 'every-commit' }),
    ...await coldLookups(dir)
  ]
  console.table(Object.fromEntries(rows.map(r => [`${r.op} [${r.mode}]`, { 'ops/s': r.opsPerSec, 'main CPU µs/op': r.mainCpuUsPerOp, 'mean latency µs': r.meanLatencyUs }])))
  const report = {
    bench: 'meta',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    note: 'file-backed journal in the OS temp dir; shared, noisy machine; main CPU = event-loop thread only',
    opsPerRun: N,
    concurrency: CONCURRENCY,
    rows
  }
  await mkdir('bench/results', { recursive: true })
  await writeFile('bench/results/meta.json', JSON.stringify(report, null, 2) + '\n')
  console.log('\nwrote bench/results/meta.json')
} finally {
  await rm(dir, { recursive: true, force: true })
}
