/**
 * Chunk layer benchmark: encode, decode from the data fragments, and degraded decode (the n − k data
 * fragments missing, so Reed-Solomon rebuilds them) in MB/s of stripe data, for 2-of-3, 4-of-6 and
 * 10-of-14 with 1 MiB and 4 MiB stripes, inline on this thread and on the worker pool; the node:crypto
 * floor (SHA-256, BLAKE3, AES-256-CTR); both Reed-Solomon engines; and where one 4-of-6 encode spends its time.
 * `node bench/run.mjs chunk [--quick]` → table + bench/results/chunk.json. Numbers are medians of
 * several rounds; the machine is shared, so expect noise.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { cidOf } from '../src/util/cid.js'
import { BLAKE3_CODE, digestFor } from '../src/util/digest.js'
import { createChunkPool, decodeStripe, encodeStripe, reedSolomonCodec, DEFAULT_RS_ENGINE, type EncodedStripe, type Policy } from '../src/chunk/index.js'
import { sealPackage } from '../src/chunk/caont.js'

const MiB = 1024 * 1024
const QUICK = process.argv.includes('--quick')
const ROUNDS = QUICK ? 3 : 5
const ROUND_MS = QUICK ? 150 : 400
const SALT = randomBytes(32)
const POLICIES: Policy[] = [{ k: 2, n: 3 }, { k: 4, n: 6 }, { k: 10, n: 14 }]
const SIZES = [MiB, 4 * MiB]

const mbps = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000)
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** A rate two ways: by wall-clock time, and by this process's CPU time (less skewed by other load). */
interface Rate { wall: number, cpu: number }

/** Median MB/s of `fn` (which handles `bytes` per call) over ROUNDS rounds of at least ROUND_MS. */
function rate2 (bytes: number, fn: () => void): Rate {
  fn()
  const wall: number[] = []
  const cpu: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    let calls = 0
    const start = performance.now()
    const cpu0 = process.cpuUsage()
    while (performance.now() - start < ROUND_MS || calls < 2) { fn(); calls++ }
    const used = process.cpuUsage(cpu0)
    wall.push(mbps(bytes * calls, performance.now() - start))
    cpu.push(mbps(bytes * calls, (used.user + used.system) / 1000))
  }
  return { wall: median(wall), cpu: median(cpu) }
}

/** Wall-clock MB/s of `fn` (see rate2). */
function rate (bytes: number, fn: () => void): number {
  return rate2(bytes, fn).wall
}

/** A pool rate: median and best round, and the CPU cores this process got (CPU time / wall time). */
interface PoolRate { median: number, best: number, cores: number }

/** MB/s of `batch` (which handles `bytes` in all) over ROUNDS rounds; `prepare` runs untimed. */
async function rateAsync<T> (bytes: number, prepare: () => T, batch: (input: T) => Promise<void>): Promise<PoolRate> {
  await batch(prepare())
  const rates: number[] = []
  const cores: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const input = prepare()
    const start = performance.now()
    const cpu0 = process.cpuUsage()
    await batch(input)
    const ms = performance.now() - start
    const used = process.cpuUsage(cpu0)
    rates.push(mbps(bytes, ms))
    cores.push((used.user + used.system) / 1000 / ms)
  }
  return { median: median(rates), best: Math.max(...rates), cores: median(cores) }
}

interface Row {
  policy: string
  stripe: string
  mode: 'thread' | 'pool'
  encodeMBps: number
  decodeMBps: number
  degradedDecodeMBps: number
  /** Thread mode only: the same rates by CPU time (what one core can do when it is not shared). */
  cpu?: { encodeMBps: number, decodeMBps: number, degradedDecodeMBps: number }
  /** Pool mode only: best rounds, and the CPU cores the process got (median CPU time / wall time). */
  best?: { encodeMBps: number, decodeMBps: number, degradedDecodeMBps: number }
  cores?: { encode: number, decode: number, degradedDecode: number }
}

const frags = (e: EncodedStripe, from: number): Array<{ index: number, bytes: Uint8Array }> =>
  e.fragments.slice(from, from + e.k).map(f => ({ index: f.index, bytes: f.bytes }))

function floor (): Record<string, number> {
  const data = randomBytes(4 * MiB)
  const key = randomBytes(32)
  const iv = Buffer.alloc(16)
  const sha = rate2(data.length, () => { createHash('sha256').update(data).digest() })
  const blake3 = rate2(data.length, () => { digestFor(BLAKE3_CODE, data) })
  const aes = rate2(data.length, () => { createCipheriv('aes-256-ctr', key, iv).update(data) })
  const target = new Uint8Array(data.length)
  const copy = rate2(data.length, () => { target.set(data) })
  return { sha256MBps: sha.wall, blake3MBps: blake3.wall, aesCtrMBps: aes.wall, memcpyMBps: copy.wall, sha256CpuMBps: sha.cpu, blake3CpuMBps: blake3.cpu, aesCtrCpuMBps: aes.cpu, memcpyCpuMBps: copy.cpu }
}

function engines (): Array<Record<string, string | number>> {
  const out: Array<Record<string, string | number>> = []
  for (const { k, n } of POLICIES) {
    const size = Math.ceil(4 * MiB / k)
    const data = Array.from({ length: k }, () => new Uint8Array(randomBytes(size)))
    const parity = Array.from({ length: n - k }, () => new Uint8Array(size))
    for (const engine of ['js', 'wasm'] as const) {
      const codec = reedSolomonCodec(engine)
      const enc = rate2(4 * MiB, () => { codec.encodeInto(data, parity) })
      const slots = [...data, ...parity].map((s, i) => i < n - k ? undefined : s)
      const out2 = Array.from({ length: k }, () => new Uint8Array(size))
      const rec = rate2(4 * MiB, () => { codec.reconstructDataInto(slots, k, n - k, out2) })
      out.push({ policy: `${k}/${n}`, engine, encodeMBps: enc.wall, reconstructMBps: rec.wall, encodeCpuMBps: enc.cpu, reconstructCpuMBps: rec.cpu })
    }
  }
  return out
}

/** Where one 4-of-6, 4 MiB encode spends its time (each step alone, CPU ms per stripe). */
function breakdown (): Record<string, number> {
  const stripe = new Uint8Array(randomBytes(4 * MiB))
  const k = 4
  const n = 6
  const size = Math.ceil((stripe.length + 32) / k)
  const shards = Array.from({ length: n }, () => new Uint8Array(size))
  const ms = (fn: () => void): number => 4 * MiB / 1e6 / rate2(4 * MiB, fn).cpu * 1000
  const total = ms(() => { encodeStripe(stripe, { k, n }, SALT) })
  const caont = ms(() => { sealPackage(stripe, SALT, shards.slice(0, k), BLAKE3_CODE) })
  const rs = ms(() => { reedSolomonCodec().encodeInto(shards.slice(0, k), shards.slice(k)) })
  const cids = ms(() => { for (const s of shards) cidOf(s) })
  return { totalMs: total, caontMs: caont, reedSolomonMs: rs, fragmentCidsMs: cids, otherMs: total - caont - rs - cids }
}

/** Small files are one short stripe each: 4 KiB stripes at 4-of-6, stripes per second. */
async function smallStripes (pool: ReturnType<typeof createChunkPool>): Promise<Record<string, number>> {
  const size = 4096
  const policy = { k: 4, n: 6 }
  const stripe = new Uint8Array(randomBytes(size))
  const e = encodeStripe(stripe, policy, SALT)
  const expect = { ...policy, length: size }
  const degraded = frags(e, 2)
  const perSecond = (r: number): number => r * 1e6 / size
  const batch = 256
  return {
    threadEncodePerSec: perSecond(rate(size, () => { encodeStripe(stripe, policy, SALT) })),
    threadDegradedDecodePerSec: perSecond(rate(size, () => { decodeStripe(degraded, expect, SALT) })),
    poolEncodePerSec: perSecond((await rateAsync(size * batch, () => undefined, async () => {
      await Promise.all(Array.from({ length: batch }, async () => await pool.encode(stripe, policy, { keepStripe: true })))
    })).median),
    poolDegradedDecodePerSec: perSecond((await rateAsync(size * batch, () => undefined, async () => {
      await Promise.all(Array.from({ length: batch }, async () => await pool.decode(degraded, expect)))
    })).median)
  }
}

async function main (): Promise<void> {
  const loadBefore = loadavg()[0]
  const workers = availableParallelism()
  const pool = createChunkPool({ salt: SALT, workers, maxQueue: 2 * workers })
  await pool.start()
  const rows: Row[] = []
  let small: Record<string, number> = {}
  try {
    for (const policy of POLICIES) {
      for (const size of SIZES) {
        const stripe = new Uint8Array(randomBytes(size))
        const e = encodeStripe(stripe, policy, SALT)
        const expect = { k: policy.k, n: policy.n, length: size }
        const data = frags(e, 0)
        const degraded = frags(e, policy.n - policy.k)
        const name = { policy: `${policy.k}/${policy.n}`, stripe: `${size / MiB}MiB` }
        const tEnc = rate2(size, () => { encodeStripe(stripe, policy, SALT) })
        const tDec = rate2(size, () => { decodeStripe(data, expect, SALT) })
        const tDeg = rate2(size, () => { decodeStripe(degraded, expect, SALT) })
        rows.push({
          ...name,
          mode: 'thread',
          encodeMBps: tEnc.wall,
          decodeMBps: tDec.wall,
          degradedDecodeMBps: tDeg.wall,
          cpu: { encodeMBps: tEnc.cpu, decodeMBps: tDec.cpu, degradedDecodeMBps: tDeg.cpu }
        })
        // Enough stripes in flight to keep every worker busy and the queue full.
        const batch = Math.max(4 * workers, Math.round(32 * MiB / size))
        const many = async (fn: () => Promise<unknown>): Promise<void> => { await Promise.all(Array.from({ length: batch }, fn)) }
        const none = (): undefined => undefined
        // Each call moves a fresh copy (made untimed), as a caller that hands over its buffer does.
        const enc = await rateAsync(size * batch, () => Array.from({ length: batch }, () => new Uint8Array(stripe)), async (copies) => {
          await Promise.all(copies.map(async c => await pool.encode(c, policy)))
        })
        // Fragments are copied to the workers (the default), as a caller that keeps them does.
        const dec = await rateAsync(size * batch, none, async () => { await many(async () => await pool.decode(data, expect)) })
        const deg = await rateAsync(size * batch, none, async () => { await many(async () => await pool.decode(degraded, expect)) })
        rows.push({
          ...name,
          mode: 'pool',
          encodeMBps: enc.median,
          decodeMBps: dec.median,
          degradedDecodeMBps: deg.median,
          best: { encodeMBps: enc.best, decodeMBps: dec.best, degradedDecodeMBps: deg.best },
          cores: { encode: enc.cores, decode: dec.cores, degradedDecode: deg.cores }
        })
      }
    }
    small = await smallStripes(pool)
  } finally {
    await pool.stop()
  }
  const crypto = floor()
  const rsEngines = engines()
  const encode46 = breakdown()
  const headline = rows.find(r => r.policy === '4/6' && r.stripe === '4MiB' && r.mode === 'pool') as Row
  const result = {
    encodeMBps: headline.encodeMBps,
    decodeMBps: headline.decodeMBps,
    degradedDecodeMBps: headline.degradedDecodeMBps,
    sha256MBps: crypto.sha256MBps,
    blake3MBps: crypto.blake3MBps,
    aesCtrMBps: crypto.aesCtrMBps,
    memcpyMBps: crypto.memcpyMBps,
    headline: '4/6, 4 MiB stripes, pool (medians; see rows for best rounds and the CPU cores the process got)',
    workers,
    engine: DEFAULT_RS_ENGINE,
    cpu: cpus()[0]?.model,
    node: process.version,
    quick: QUICK,
    /** 1-minute load average before and after: other work on this shared machine skews the numbers. */
    loadAverage: { before: loadBefore, after: loadavg()[0] },
    rows,
    rsEngines,
    smallStripes4KiB4of6: small,
    encode4of6Breakdown: encode46,
    date: new Date().toISOString()
  }
  const f = (x: number): string => x.toFixed(0).padStart(8)
  console.log('policy  stripe  mode      encode    decode  degraded   MB/s of stripe data, median wall clock;')
  console.log('                                                      thread: [by CPU time]; pool: best round (cores the process got)')
  const c = (x: number): string => x.toFixed(1)
  for (const r of rows) {
    const cpu = r.cpu == null ? '' : `   [${f(r.cpu.encodeMBps)}  ${f(r.cpu.decodeMBps)}  ${f(r.cpu.degradedDecodeMBps)}]`
    const best = r.best == null || r.cores == null
      ? ''
      : `   ${f(r.best.encodeMBps)} (${c(r.cores.encode)})  ${f(r.best.decodeMBps)} (${c(r.cores.decode)})  ${f(r.best.degradedDecodeMBps)} (${c(r.cores.degradedDecode)})`
    console.log(`${r.policy.padEnd(7)} ${r.stripe.padEnd(7)} ${r.mode.padEnd(6)} ${f(r.encodeMBps)}  ${f(r.decodeMBps)}  ${f(r.degradedDecodeMBps)}${cpu}${best}`)
  }
  console.log(`\nhash and cipher floor: sha256 ${crypto.sha256MBps.toFixed(0)} [${crypto.sha256CpuMBps.toFixed(0)}] MB/s, blake3 ${crypto.blake3MBps.toFixed(0)} [${crypto.blake3CpuMBps.toFixed(0)}] MB/s, aes-256-ctr ${crypto.aesCtrMBps.toFixed(0)} [${crypto.aesCtrCpuMBps.toFixed(0)}] MB/s, memcpy ${crypto.memcpyMBps.toFixed(0)} MB/s`)
  console.log('\nReed-Solomon engines (4 MiB of data shards):')
  for (const r of rsEngines) console.log(`  ${String(r.policy).padEnd(6)} ${String(r.engine).padEnd(5)} encode ${f(r.encodeMBps as number)} [${f(r.encodeCpuMBps as number)}]  reconstruct ${f(r.reconstructMBps as number)} [${f(r.reconstructCpuMBps as number)}]`)
  console.log(`\n4 KiB stripes, 4/6, per second: ${Object.entries(small).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`)
  console.log(`\n4/6 4 MiB encode on one thread, CPU ms per stripe: ${Object.entries(encode46).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`)
  console.log(`\nload average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after (${cpus().length} cores)`)
  console.log(`\nheadline (${result.headline}, ${workers} workers): encode ${headline.encodeMBps.toFixed(0)}, decode ${headline.decodeMBps.toFixed(0)}, degraded ${headline.degradedDecodeMBps.toFixed(0)} MB/s`)
  const dir = fileURLToPath(new URL('../../bench/results/', import.meta.url))
  mkdirSync(dir, { recursive: true })
  writeFileSync(`${dir}chunk.json`, JSON.stringify(result, null, 2) + '\n')
}

await main()
