/**
 * Repair benchmark: six real PALM nodes on loopback (libp2p, swarm key, fragment protocol, memory
 * stores), the real chunk pool and PoolStripeIO, a real SQLite journal file, and the real
 * repairer. One device dies (its node stopped, its fragments gone with it) and is declared gone
 * (the grace excluded); the repairer of ONE device rebuilds everything (`drain` of the dead device
 * makes it do every stripe, not only those it is responsible for: in a swarm the five live
 * devices share the work, so this is the slow bound).
 *
 *   - `timeToFullProtectionSec`, big files (4 MiB stripes) and small files (4 KiB, one stripe
 *     each), 4-of-6: margin 1 after the loss, so repair runs at full speed;
 *   - `repairMBps`: fragment bytes rebuilt and stored per second, and stripe bytes restored;
 *   - the bandwidth cap: 2-of-6 stripes after a loss have margin ≥ 2 (lazy repair), run under
 *     `bytesPerSecond`; bytes fetched + stored per second measured against it;
 *   - compared in the same run with reading every byte back through the pool (what a
 *     resync-by-reading would cost at least), and the GlusterFS heal figure quoted from the issue.
 *   - phase 3 (root): the same losses in a real swarm, six processes in network namespaces (one
 *     `palm mount`, five `palm serve`), files written through the mount, one device killed; the
 *     five live devices share the work (bench/lib/repair-swarm.ts).
 * Where the time goes: the repairer's reads (fetch any k + rebuild), puts, its journal
 * lookups and records are timed by wrapping the real components (wall time awaited, summed over
 * the stripes in flight: in one process running six nodes, it includes waiting for the event loop).
 *
 * `node bench/run.mjs repair [--quick|--full]` → table + bench/results/repair.json. Default 256 MiB
 * of big files and 2,000 small files (this shared 2-core machine); `--quick`: 64 MiB and 500;
 * `--full`: 1 GiB and 10,000 (the issue's). `--concurrency=N`: stripes repaired at once (the
 * repairer's default otherwise); `--no-cap`: phase 1 only, for runs comparing repair speeds (written
 * to repair-ab.json); `--no-swarm`: without phase 3 (the same in a real swarm, as root).
 */
import '../src/util/polyfill.js'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createMetaStore, ROOT_INO, type StripeRef } from '../src/meta/index.js'
import type { PlacedStripe, PoolStripeIO } from '../src/place/index.js'
import { createRepairer } from '../src/repair/index.js'
import { captureLogger, createPoolRig, type PoolRig } from '../test/unit/place/pool-rig.js'
import { createTempDir, type Cleanup } from '../test/helpers/tmp.js'
import { waitUntil, writeResults } from './lib/measure.js'
import { repairInSwarm } from './lib/repair-swarm.js'
import { lanSkipReason } from '../test/lan/harness.js'

const FULL = process.argv.includes('--full')
const QUICK = process.argv.includes('--quick')
/** `--concurrency=N`: stripes the repairer works on at once (its default otherwise). */
const CONCURRENCY = concurrencyFlag()
/** `--no-cap`: skip phase 2 (the bandwidth cap, a minute), for runs that compare repair speeds. */
const NO_CAP = process.argv.includes('--no-cap')
/** `--no-swarm`: skip phase 3 (the same repairs in a real swarm of six processes; it needs root). */
const NO_SWARM = process.argv.includes('--no-swarm') || lanSkipReason() !== undefined
const BIG_MIB = FULL ? 1024 : QUICK ? 64 : 256
const SMALL_FILES = FULL ? 10_000 : QUICK ? 500 : 2000
const STRIPE = 4 * 1024 * 1024
const SMALL_BYTES = 4096
const LAZY_MIB = QUICK ? 16 : 64
/** Below what phase 1 reaches on this machine, so that the cap binds. */
const CAP_BYTES_PER_SEC = 2 * 2 ** 20
const MiB = 2 ** 20

class Scope implements Cleanup {
  readonly #fns: Array<() => unknown> = []
  after (fn: () => unknown): void { this.#fns.push(fn) }
  async close (): Promise<void> {
    for (const fn of this.#fns.splice(0).reverse()) await Promise.resolve(fn()).catch(err => { console.error('cleanup failed:', err) })
  }
}

type Meta = ReturnType<typeof createMetaStore>

/** Writes `count` stripes of `bytes` through the pool, `concurrency` at a time, into files of `perFile` stripes. */
async function writeStripes (io: PoolStripeIO, meta: Meta, prefix: string, count: number, bytes: number, perFile: number, policy: { k: number, n: number }): Promise<number> {
  const started = performance.now()
  const placed: PlacedStripe[] = new Array(count)
  let next = 0
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < count) {
      const i = next++
      placed[i] = await io.write(new Uint8Array(randomBytes(bytes)), policy, { file: `/${prefix}${i}` })
    }
  }))
  for (let f = 0; f * perFile < count; f++) {
    const stripes: StripeRef[] = placed.slice(f * perFile, (f + 1) * perFile).map((p, index) => ({ ...p, index }))
    const attr = await meta.create(ROOT_INO, `${prefix}${f}`, { type: 'file', mode: 0o644, uid: 0, gid: 0 })
    await meta.setContent(attr.ino, { size: stripes.reduce((s, x) => s + x.length, 0), stripeSize: STRIPE, stripes })
  }
  return (performance.now() - started) / 1000
}

interface Timings { readMs: number, putMs: number, lookMs: number, recordMs: number, fetchedBytes: number, storedBytes: number }

/** The repairer of device 0 over `meta`, its parts timed. */
function timedRepairer (rig: PoolRig, meta: Meta, bytesPerSecond: number, t: Timings): ReturnType<typeof createRepairer> {
  const writer = rig.nodes[0]
  const timed = async <T>(key: 'readMs' | 'putMs' | 'lookMs' | 'recordMs', p: Promise<T>): Promise<T> => {
    const s = performance.now()
    try { return await p } finally { t[key] += performance.now() - s }
  }
  // The journal's part: a stripe looked up as it is now (before the copies and before the record),
  // and the new holders recorded (a `holders` op, committed).
  const timedMeta: Meta = new Proxy(meta, {
    get: (target, prop) => {
      if (prop === 'getStripes') return async (...a: Parameters<Meta['getStripes']>) => await timed('lookMs', target.getStripes(...a))
      if (prop === 'setHolders') return async (...a: Parameters<Meta['setHolders']>) => await timed('recordMs', target.setHolders(...a))
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })
  return createRepairer({ graceMs: 1000, intervalMs: 200, settleMs: 0, scrubIntervalMs: 0, bytesPerSecond, rebalanceSlack: 0, ...(CONCURRENCY != null ? { concurrency: CONCURRENCY } : {}) }, {
    meta: timedMeta,
    stripes: {
      read: async (s, o) => { const d = await timed('readMs', rig.io.read(s, o)); t.fetchedBytes += s.k * Math.ceil(s.length / s.k); return d },
      // The repairer rebuilds only the missing fragments from any k (no decode, no full re-encode).
      rebuild: async (s, wanted, o) => { const f = await timed('readMs', rig.io.rebuild(s, wanted, o)); t.fetchedBytes += s.k * Math.ceil(s.length / s.k); return f }
    },
    candidates: () => rig.io.devices.candidates(),
    describe: id => rig.io.devices.describe(id),
    membership: writer.node.membership,
    fragments: { putMany: async (peer, items, o) => { t.storedBytes += items.reduce((s, i) => s + i.bytes.byteLength, 0); return await timed('putMs', writer.node.fragments.putMany(peer, items, o)) } },
    store: writer.store,
    deviceId: rig.id(0),
    logger: captureLogger([])
  })
}

/**
 * Repairs after `dead` is gone, device 0 doing every stripe: each fragment `dead` held is reported
 * to it as a bad copy (what read-repair does), so it repairs those stripes whatever the rendezvous
 * order says. Resolves when a walk finds no stripe needing work (the repairer's own survey).
 */
async function repairAll (repairer: ReturnType<typeof createRepairer>, meta: Meta, dead: string[]): Promise<{ sec: number, stripes: number, fragments: number }> {
  await repairer.start()
  for (const d of dead) repairer.declareGone(d)
  const started = performance.now()
  for await (const { stripe } of meta.allStripes()) {
    stripe.holders.forEach((h, i) => { for (const d of dead) if (h.includes(d)) repairer.suspect(stripe, i, d, 'missing') })
  }
  // Done: a walk that started after every suspect was reported finds no fragment left to place.
  const reportedMs = Date.now()
  await waitUntil('the repair did not finish', 600_000, () => {
    const s = repairer.status()
    return s.lastWalkMs > reportedMs + 250 && s.bytesToMove === 0
  }, 50)
  const sec = (performance.now() - started) / 1000
  const s = repairer.status()
  await repairer.stop()
  return { sec, stripes: s.stripesRepaired, fragments: s.fragmentsRebuilt }
}

async function main (): Promise<void> {
  const scope = new Scope()
  try {
    const rig = await createPoolRig(scope, { devices: 6 })
    // A journal file as the daemon has (its own reader connection beside the writer's; ':memory:'
    // would share one connection, queueing each lookup behind the commits).
    const dir = await createTempDir(scope, 'palm-bench-repair-')
    let journals = 0
    const open = async (): Promise<Meta> => {
      const m = createMetaStore({ path: join(dir, `journal-${journals++}.db`), deviceId: rig.id(0) })
      await m.start()
      scope.after(async () => { await m.stop() })
      return m
    }

    // Phase 1: big and small files at 4-of-6, device 5 dies, device 0 rebuilds everything.
    const big = await open()
    const small = await open()
    const bigStripes = BIG_MIB * MiB / STRIPE
    console.log(`writing ${BIG_MIB} MiB of big files and ${SMALL_FILES} small files (4-of-6, six devices on loopback)…`)
    const writeBigSec = await writeStripes(rig.io, big, 'big', bigStripes, STRIPE, 16, { k: 4, n: 6 })
    const writeSmallSec = await writeStripes(rig.io, small, 'small', SMALL_FILES, SMALL_BYTES, 1, { k: 4, n: 6 })
    // Fragments that doubled up while a device was slow are spread first: the loss starts from n on n devices.
    await waitUntil('the spread queue did not drain', 300_000, () => rig.queue.count() === 0, 200)
    await rig.spreader?.stop()
    const dead = rig.id(5)
    await rig.stop(5)
    const results: Record<string, unknown> = {}
    for (const [name, meta, bytes] of [['bigFiles', big, BIG_MIB * MiB], ['smallFiles', small, SMALL_FILES * SMALL_BYTES]] as const) {
      const t: Timings = { readMs: 0, putMs: 0, lookMs: 0, recordMs: 0, fetchedBytes: 0, storedBytes: 0 }
      const repairer = timedRepairer(rig, meta, CAP_BYTES_PER_SEC, t)
      const outcome = await repairAll(repairer, meta, [dead])
      const sec = outcome.sec
      // The comparison: reading every stripe back through the pool (no decode skipped, no write).
      const readStarted = performance.now()
      for await (const { stripe } of meta.allStripes()) await rig.io.read(stripe)
      const readAllSec = (performance.now() - readStarted) / 1000
      results[name] = {
        timeToFullProtectionSec: round(sec),
        stripesRepaired: outcome.stripes,
        fragmentsRebuilt: outcome.fragments,
        repairMBps: round(t.storedBytes / MiB / sec),
        restoredDataMBps: round(outcome.stripes * (bytes / stripeCount(name)) / MiB / sec),
        readAllBackSec: round(readAllSec),
        readAllBackMBps: round(bytes / MiB / readAllSec),
        writeSec: round(name === 'bigFiles' ? writeBigSec : writeSmallSec),
        whereTheTimeGoes: { readMs: Math.round(t.readMs), putMs: Math.round(t.putMs), lookMs: Math.round(t.lookMs), recordMs: Math.round(t.recordMs), note: `summed over ${CONCURRENCY ?? 4} stripes in flight; wall time is timeToFullProtectionSec; readMs: gather any k fragments and rebuild the missing ones from them; lookMs: the stripe read from the journal as it is now (twice a stripe); recordMs: the new holders recorded (committed journal ops; batched, up to 512 in flight, no runner waits for them)` }
      }
      console.log(name, JSON.stringify(results[name]))
    }

    if (NO_CAP) {
      results.context = context()
      writeResults('repair-ab', results)
      return
    }

    // Phase 2: the cap. 2-of-6 stripes on the five live devices, device 4 dies: margin ≥ 2, lazy.
    const lazy = await open()
    await writeStripes(rig.io, lazy, 'lazy', LAZY_MIB * MiB / STRIPE, STRIPE, 16, { k: 2, n: 6 })
    const dead2 = rig.id(4)
    await rig.stop(4)
    const t: Timings = { readMs: 0, putMs: 0, lookMs: 0, recordMs: 0, fetchedBytes: 0, storedBytes: 0 }
    const repairer = timedRepairer(rig, lazy, CAP_BYTES_PER_SEC, t)
    const outcome = await repairAll(repairer, lazy, [dead, dead2])
    const sec = outcome.sec
    const moved = t.fetchedBytes + t.storedBytes
    // The contract: at most one stripe ahead of the budget (its bytes are reserved when it starts).
    const oneStripe = 8 * STRIPE / 2
    results.bandwidthCap = {
      capBytesPerSec: CAP_BYTES_PER_SEC,
      measuredBytesPerSec: Math.round(moved / sec),
      bytesMoved: moved,
      honoured: moved <= CAP_BYTES_PER_SEC * sec + oneStripe,
      stripesRepaired: outcome.stripes,
      sec: round(sec),
      note: 'bytes fetched + stored by lazy repairs (margin ≥ 2) over the whole run; allowed: cap × time + one stripe (2 fetched + up to 6 stored fragments of 2 MiB)'
    }
    console.log('bandwidthCap', JSON.stringify(results.bandwidthCap))
    await scope.close()

    // Phase 3: the same losses in a real swarm (six processes in network namespaces, the five live
    // devices sharing the work), the grace excluded.
    if (!NO_SWARM) {
      console.log('the same in a swarm of six processes (network namespaces, one mount, five serve)…')
      const big = await repairInSwarm('big', BIG_MIB / 64, 64 * MiB, STRIPE)
      console.log('swarm bigFiles', JSON.stringify(big))
      const small = await repairInSwarm('small', SMALL_FILES, SMALL_BYTES, STRIPE)
      console.log('swarm smallFiles', JSON.stringify(small))
      results.swarm = { bigFiles: big, smallFiles: small, note: 'six PALM devices, one process each in its own network namespace (one palm mount, five palm serve), 4-of-6, files written through the mount, one serving device killed with SIGKILL; from when the mount calls it gone (grace 10 s, excluded) until a walk of the mount\'s repairer finds every stripe\'s n fragments reachable again (five devices: one holds two of each stripe) with nothing left to place; the five live devices share the work' }
    }
    results.context = context()
    printTable(results)
    writeResults('repair', results)
  } finally {
    await scope.close()
  }
}

interface Repaired { timeToFullProtectionSec: number, restoredDataMBps: number, readAllBackMBps?: number, cpuMsPerStripe?: number }

/** The summary table: each repair against the issue's targets (≤ 60 s for 10,000 small files, ≥ 50 MB/s for 1 GiB). */
function printTable (results: Record<string, unknown>): void {
  const swarm = results.swarm as { bigFiles: Repaired, smallFiles: Repaired } | undefined
  const rows: Array<[string, Repaired | undefined, 'big' | 'small']> = [
    ['one device repairs, big files', results.bigFiles as Repaired, 'big'],
    ['one device repairs, small files', results.smallFiles as Repaired, 'small'],
    ['swarm of 6 processes, big files', swarm?.bigFiles, 'big'],
    ['swarm of 6 processes, small files', swarm?.smallFiles, 'small']
  ]
  const target = (kind: 'big' | 'small', r: Repaired): string => {
    if (!FULL) return `(${kind === 'big' ? '≥ 50 MB/s' : '≤ 60 s'} at --full)`
    const met = kind === 'big' ? r.restoredDataMBps >= 50 : r.timeToFullProtectionSec <= 60
    return `${kind === 'big' ? '≥ 50 MB/s' : '≤ 60 s'}: ${met ? 'met' : 'not met'}`
  }
  console.log(`\n${'repair'.padEnd(34)} ${'time'.padStart(9)} ${'MB/s'.padStart(7)} ${'read back'.padStart(10)} ${'CPU/stripe'.padStart(11)}   target`)
  for (const [name, r, kind] of rows) {
    if (r == null) continue
    const cpu = r.cpuMsPerStripe != null ? `${r.cpuMsPerStripe} ms` : '-'
    console.log(`${name.padEnd(34)} ${`${r.timeToFullProtectionSec} s`.padStart(9)} ${String(r.restoredDataMBps).padStart(7)} ${(r.readAllBackMBps != null ? String(r.readAllBackMBps) : '-').padStart(10)} ${cpu.padStart(11)}   ${target(kind, r)}`)
  }
  const cap = results.bandwidthCap as { capBytesPerSec: number, measuredBytesPerSec: number, honoured: boolean } | undefined
  if (cap != null) console.log(`${'lazy repairs under the cap'.padEnd(34)} ${`${cap.measuredBytesPerSec} B/s against ${cap.capBytesPerSec}`.padStart(40)}   ${cap.honoured ? 'honoured' : 'NOT honoured'}`)
}

function concurrencyFlag (): number | undefined {
  const flag = process.argv.find(a => a.startsWith('--concurrency'))
  if (flag == null) return undefined
  const n = Number(flag.split('=')[1])
  if (!Number.isInteger(n) || n < 1) {
    console.error(`${flag}: give the stripes to repair at once as --concurrency=N, N ≥ 1`)
    process.exit(2)
  }
  return n
}

/** What ran, for the results file. */
function context (): Record<string, unknown> {
  return {
    setup: `six PALM nodes on loopback in one process, memory stores, a SQLite journal file, 2 encode workers, one repairing device (rebuilding only the missing fragments, ${CONCURRENCY ?? 'default'} stripes at once); ${BIG_MIB} MiB big / ${SMALL_FILES} small files${FULL ? '' : ' (reduced: --full for 1 GiB / 10,000)'}`,
    scale: FULL ? 'full' : QUICK ? 'quick' : 'default',
    glusterHealQuoted: 'GlusterFS heal of 1,001 files after the brick returned: 39–44 s on this machine (issue 11, not measured in this run)'
  }
}

function stripeCount (name: string): number {
  return name === 'bigFiles' ? BIG_MIB * MiB / STRIPE : SMALL_FILES
}

function round (x: number): number { return Math.round(x * 100) / 100 }

main().then(() => { process.exit(0) }, err => { console.error(err); process.exit(1) })
