/**
 * Fragment store benchmark: puts/s and gets/s for 1 KiB, 64 KiB and 1 MiB fragments with one file
 * per fragment ("files", packThresholdBytes 0) and with pack segments ("packs"); the cost of a
 * small file's sync (6 fragments, as a 4 KiB file at 4-of-6); the start-up scan of 100k fragments;
 * the memory of the pack index; and the shard layouts for fragment files.
 * `node bench/run.mjs store` → table + bench/results/store.json. Gets read from the page cache
 * (the fragments were just written): they measure the store's own cost, not the disk's.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createChunkPool } from '../src/chunk/index.js'
import { createLocalStripeIO } from '../src/place/local.js'
import type { PlacedStripe } from '../src/place/types.js'
import { createFsStore, type FsFragmentStore, type FsStoreInit } from '../src/store/index.js'
import { defaultLogger } from '../src/util/logger.js'
import { writeFileAtomic } from '../src/store/fragment-files.js'
import { cidOf, type CID } from '../src/util/cid.js'

const KiB = 1024
const MiB = 1024 * KiB
const CONCURRENCY = 32
/** Rounds of each throughput measurement; the median is reported. */
const ROUNDS = 3
const SIZES: Array<[string, number, number]> = [['1KiB', KiB, 10_000], ['64KiB', 64 * KiB, 1_000], ['256KiB', 256 * KiB, 320], ['1MiB', MiB, 80]]
const MODES: Array<[string, Partial<FsStoreInit>]> = [['files', { packThresholdBytes: 0 }], ['packs', { packThresholdBytes: 2 * MiB }]]

interface Fragment { cid: CID, bytes: Uint8Array }

function fragments (count: number, size: number): Fragment[] {
  // Distinct fragments without generating count × size random bytes: a random block with a counter.
  const base = randomBytes(size)
  return Array.from({ length: count }, (_, i) => {
    const bytes = new Uint8Array(base)
    new DataView(bytes.buffer).setUint32(0, i)
    if (size >= 8) new DataView(bytes.buffer).setUint32(4, Math.floor(Math.random() * 2 ** 32))
    return { cid: cidOf(bytes), bytes }
  })
}

async function parallel<T> (items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < items.length) await fn(items[next++])
  }))
}

async function timed (fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

async function openStore (root: string, name: string, init: Partial<FsStoreInit>): Promise<FsFragmentStore> {
  const store = createFsStore({ path: join(root, name), capacityBytes: 100 * 1024 * MiB, ...init })
  await store.start()
  return store
}

const round = (x: number, digits = 0): number => Math.round(x * 10 ** digits) / 10 ** digits

/** Median of the rounds, with the range, for numbers measured on a shared (noisy) machine. */
function summarise (runs: number[]): { median: number, min: number, max: number } {
  const sorted = [...runs].sort((a, b) => a - b)
  return { median: round(sorted[Math.floor(sorted.length / 2)]), min: round(sorted[0]), max: round(sorted[sorted.length - 1]) }
}

async function throughput (root: string): Promise<Record<string, Record<string, unknown>>> {
  const runs: Record<string, { puts: number[], gets: number[], syncMs: number[] }> = {}
  // Rounds interleave the variants, so that a burst of load from elsewhere hits all of them.
  for (let r = 0; r < ROUNDS; r++) {
    for (const [mode, init] of MODES) {
      for (const [label, size, count] of SIZES) {
        const store = await openStore(root, `${mode}-${label}`, init)
        const frags = fragments(count, size)
        const putMs = await timed(async () => { await parallel(frags, async f => { await store.put(f.cid, f.bytes) }) })
        const syncMs = await timed(async () => { await store.sync() })
        const getMs = await timed(async () => { await parallel(frags, async f => { await store.get(f.cid) }) })
        const run = (runs[`${mode} ${label}`] ??= { puts: [], gets: [], syncMs: [] })
        run.puts.push(count / putMs * 1000)
        run.gets.push(count / getMs * 1000)
        run.syncMs.push(syncMs)
        await store.stop()
        await rm(store.root, { recursive: true, force: true })
      }
    }
  }
  const out: Record<string, Record<string, unknown>> = {}
  for (const [mode] of MODES) {
    out[mode] = {}
    for (const [label, size, count] of SIZES) {
      const run = runs[`${mode} ${label}`]
      const puts = summarise(run.puts)
      const gets = summarise(run.gets)
      out[mode][label] = {
        count,
        putsPerSec: puts,
        putMBps: round(puts.median * size / MiB, 1),
        getsPerSec: gets,
        getMBps: round(gets.median * size / MiB, 1),
        syncAllMs: summarise(run.syncMs)
      }
    }
  }
  return out
}

/** A 4 KiB file at 4-of-6 is 6 fragments of about 1 KiB: put them, then sync them (fsync of that file). */
async function smallFileSync (root: string): Promise<Record<string, unknown>> {
  const runs: Record<string, number[]> = {}
  for (let r = 0; r < ROUNDS; r++) {
    for (const [mode, init] of MODES) {
      const store = await openStore(root, `sync-${mode}`, init)
      const files = 200
      const groups = Array.from({ length: files }, () => fragments(6, 1048 + 16))
      const ms = await timed(async () => {
        for (const group of groups) {
          await Promise.all(group.map(async f => { await store.put(f.cid, f.bytes) }))
          await store.sync(group.map(f => f.cid))
        }
      })
      ;(runs[mode] ??= []).push(files / ms * 1000)
      await store.stop()
      await rm(store.root, { recursive: true, force: true })
    }
  }
  return Object.fromEntries(Object.entries(runs).map(([mode, r]) => [mode, { filesPerSec: summarise(r) }]))
}

function gcNow (): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

/** Start-up (usage scan, pack index rebuild) of a store holding 100k 1 KiB fragments, and the index's heap. */
async function scan (root: string): Promise<Record<string, unknown>> {
  const gc = gcNow()
  const out: Record<string, unknown> = {}
  const count = 100_000
  for (const [mode, init] of MODES) {
    const first = await openStore(root, `scan-${mode}`, init)
    for (let i = 0; i < count; i += 10_000) {
      const frags = fragments(10_000, KiB)
      await parallel(frags, async f => { await first.put(f.cid, f.bytes) })
    }
    await first.stop()
    gc()
    const heapBefore = process.memoryUsage().heapUsed
    const again = createFsStore({ path: first.root, capacityBytes: 100 * 1024 * MiB })
    const startMs = await timed(async () => { await again.start() })
    gc()
    const heapAfter = process.memoryUsage().heapUsed
    out[mode] = {
      fragments: again.usage().fragmentCount,
      startMs: round(startMs),
      ...(mode === 'packs' ? { indexBytesPerFragment: round((heapAfter - heapBefore) / count) } : {})
    }
    await again.stop()
    await rm(first.root, { recursive: true, force: true })
  }
  return out
}

/** Raw temp-file-and-rename writes of 20k 1 KiB files under each shard layout. */
async function sharding (root: string): Promise<Record<string, unknown>> {
  const layouts: Array<[string, (cid: string) => string]> = [
    ['flat', () => ''],
    ['1 level, 2 chars (1024 dirs)', cid => cid.slice(-3, -1)],
    ['2 levels, 2+2 chars (1M dirs)', cid => join(cid.slice(-5, -3), cid.slice(-3, -1))]
  ]
  const runs: Record<string, number[]> = {}
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, [name, dirOf]] of layouts.entries()) {
      const dir = join(root, `shard-${i}`)
      const tmp = join(dir, 'tmp')
      await mkdir(tmp, { recursive: true })
      const made = new Set<string>()
      const frags = fragments(20_000, KiB)
      const ms = await timed(async () => {
        await parallel(frags, async f => {
          const key = f.cid.toString()
          const sub = join(dir, dirOf(key))
          if (!made.has(sub)) { await mkdir(sub, { recursive: true }); made.add(sub) }
          await writeFileAtomic(tmp, join(sub, key), key, f.bytes)
        })
      })
      ;(runs[name] ??= []).push(frags.length / ms * 1000)
      await rm(dir, { recursive: true, force: true })
    }
  }
  return Object.fromEntries(Object.entries(runs).map(([name, r]) => [name, { putsPerSec: summarise(r) }]))
}

/** A row for console.table: summaries shown as "median (min–max)". */
function forTable (row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => {
    if (v != null && typeof v === 'object' && 'median' in v) {
      const s = v as { median: number, min: number, max: number }
      return [k, `${s.median} (${s.min}–${s.max})`]
    }
    return [k, v]
  }))
}

/** Local stripe I/O end to end (chunk pool on 2 workers + default store): 4 KiB stripes (small files) and 4 MiB stripes, 4-of-6. */
async function stripes (root: string): Promise<Record<string, unknown>> {
  const pool = createChunkPool({ salt: randomBytes(32), workers: 2 })
  await pool.start()
  const store = await openStore(root, 'stripes', {})
  const io = createLocalStripeIO({}, { pool, store, deviceId: 'bench', logger: defaultLogger() })
  const policy = { k: 4, n: 6 }
  const out: Record<string, unknown> = {}
  try {
    for (const [label, size, count] of [['4KiB', 4 * KiB, 3000], ['4MiB', 4 * MiB, 48]] as const) {
      const data = Array.from({ length: count }, () => randomBytes(size))
      const placed: PlacedStripe[] = []
      const writeMs = await timed(async () => { await parallel(data, async d => { placed.push(await io.write(d, policy)) }) })
      const syncMs = await timed(async () => { await io.sync(placed) })
      const readMs = await timed(async () => { await parallel(placed, async p => { await io.read(p) }) })
      out[label] = {
        count,
        writesPerSec: round(count / writeMs * 1000),
        writeMBps: round(count * size / MiB / writeMs * 1000, 1),
        readsPerSec: round(count / readMs * 1000),
        readMBps: round(count * size / MiB / readMs * 1000, 1),
        syncAllMs: round(syncMs, 1)
      }
    }
  } finally {
    await store.stop()
    await pool.stop()
  }
  return out
}

async function main (): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'palm-bench-store-'))
  try {
    const results = {
      throughput: await throughput(root),
      smallFileSync: await smallFileSync(root),
      scan100k: await scan(root),
      sharding: await sharding(root),
      stripes: await stripes(root)
    }
    console.log('\nputs/gets per second (concurrency %d, gets from the page cache)', CONCURRENCY)
    console.table(Object.fromEntries(Object.entries(results.throughput).flatMap(([mode, bySize]) =>
      Object.entries(bySize).map(([size, r]) => [`${mode} ${size}`, forTable(r as Record<string, unknown>)]))))
    console.log('\nput 6 × 1 KiB fragments + sync them (one 4 KiB file at 4-of-6, fsync)')
    console.table(Object.fromEntries(Object.entries(results.smallFileSync).map(([k, v]) => [k, forTable(v as Record<string, unknown>)])))
    console.log('\nstart-up of a store with 100k 1 KiB fragments')
    console.table(results.scan100k)
    console.log('\nshard layouts for fragment files: 20k 1 KiB temp-file + rename writes')
    console.table(Object.fromEntries(Object.entries(results.sharding).map(([k, v]) => [k, forTable(v as Record<string, unknown>)])))
    console.log('\nlocal stripe I/O, 4-of-6, chunk pool of 2 workers (encode/decode included)')
    console.table(results.stripes)
    const report = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memBytes: totalmem(), node: process.version, tmpdir: tmpdir() },
      concurrency: CONCURRENCY,
      rounds: ROUNDS,
      ...results
    }
    await mkdir('bench/results', { recursive: true })
    await writeFile('bench/results/store.json', JSON.stringify(report, null, 2) + '\n')
    console.log('\nwrote bench/results/store.json')
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

await main()
