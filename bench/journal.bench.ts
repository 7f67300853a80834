/**
 * Journal replication benchmark: two devices on loopback in two processes, each a real PalmNode
 * with a real file-backed SQLite journal. The child is device A: it writes `--ops N` (default
 * 100,000) ops through its own journal (creates spread over 100 directories) and then serves them.
 * This process is device B, started empty for each round: it connects to A and pulls everything.
 * Prints a table and writes bench/results/journal.json.
 *
 *   catchUp100kSec         B connects with nothing → B holds all N ops (N = 100,000 by default), s
 *   remoteApplyOpsPerSec   ops from A applied on B through the network per second, in the steady
 *                          middle of the catch-up (from 10 % to 90 % of the ops held)
 *   applyLocalOpsPerSec    the same ops applied to a fresh journal straight from memory (no network):
 *                          the journal's own ceiling, to tell network cost from apply cost
 *   cpu                    B's CPU per op during catch-up (user+system of this process, all threads; and
 *                          of its main thread alone, the rest being SQLite and signature checks on the
 *                          threadpool and V8's garbage collection threads) and A's (child) CPU per op served
 *   sourceWriteOpsPerSec   how fast A wrote the ops locally (context: the push path cannot beat it)
 *   journalBytes           size of A's journal files (database + WAL) holding the N ops
 *   smallPushes            CPU per op of 1,000 ops each committed alone, applied one push per op
 *                          (as a device replicates small commits) against all in one call
 *
 * Measures are named entries of MEASURES, each returning figures merged into the result, so that
 * more (closeToVisibleMs, journalBytesPer100kOps) can be added beside them.
 *
 * Flags: `--ops=N` (catchUp100kSec is then scaled to 100,000), `--rounds=R` (default 2; best of R),
 * `--catch-up-only` (only the catch-up rounds, printed, nothing written).
 * For a profile of B, run with `node --cpu-prof` as the runner does (see docs/journal.md).
 */
import '../src/util/polyfill.js'
import { spawn } from 'node:child_process'
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { peerIdFromString } from '@libp2p/peer-id'
import { admitDevice, admitPeers } from '../src/daemon/admission.js'
import { MetaReplica } from '../src/daemon/journal-replica.js'
import { journalBytes } from './lib/journal-bytes.js'
import { closeToVisible } from './lib/close-to-visible.js'
import { pushCost } from './lib/push-cost.js'
import { opSigner } from '../src/daemon/signer.js'
import { createMetaStore, ROOT_INO, type SqliteMetaStore } from '../src/meta/index.js'
import { createJournalSync, createPalmNode, generateSwarmKey, loadOrCreatePeerKey, type JournalSync, type PalmNode } from '../src/net/index.js'
import { MemoryFragmentStore } from '../src/store/memory-store.js'
import { defaultLogger } from '../src/util/logger.js'
import { writeResults } from './lib/measure.js'

const SELF = fileURLToPath(import.meta.url)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const POLYFILL = join(ROOT, 'dist/src/util/polyfill.js')
const OPS = argNumber('--ops') ?? 100_000
const ROUNDS = argNumber('--rounds') ?? 2
const DIRS = 100
/** `--catch-up-only`: only the catch-up rounds, printed and not written (for profiling: see docs/journal.md). */
const CATCH_UP_ONLY = process.argv.includes('--catch-up-only')

/** `--flag N` or `--flag=N` (bench/run.mjs passes only arguments that start with --). */
function argNumber (flag: string): number | undefined {
  const eq = process.argv.find(a => a.startsWith(`${flag}=`))
  const i = process.argv.indexOf(flag)
  const n = eq != null ? Number(eq.slice(flag.length + 1)) : i >= 0 ? Number(process.argv[i + 1]) : NaN
  return n > 0 ? n : undefined
}

interface Device { node: PalmNode, meta: SqliteMetaStore, replica: MetaReplica, sync: JournalSync, dir: string, stop: () => Promise<void> }

/** A device as the daemon builds it (node, journal signed with the node's key, replica, replication). */
async function startDevice (swarmKey: Uint8Array, dir: string): Promise<Device> {
  const logger = defaultLogger()
  const peerKey = await loadOrCreatePeerKey(join(dir, 'device.key'))
  const store = new MemoryFragmentStore()
  const node = createPalmNode({ peerKey, swarmKey, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { enabled: false }, dht: { enabled: false }, gossipIntervalMs: 500, offlineAfterMs: 5_000 },
    { store, logger, getHealth: () => ({ name: 'bench', ...store.usage(), journalHead: '', version: 'bench' }) })
  await node.start()
  const id = node.peerId.toString()
  const signer = opSigner(peerKey)
  const meta = createMetaStore({ path: join(dir, 'journal.db'), deviceId: id, sign: signer.sign, signAsync: signer.signAsync, publicKey: signer.publicKey, logger })
  await meta.start()
  // As the daemon does: devices met over the protected swarm are admitted to the journal.
  const stopAdmitting = admitPeers(meta, node.membership, logger.forComponent('palm:bench:admission'))
  const replica = new MetaReplica(meta, { deviceId: id, admit: async (peer) => await admitDevice(meta, peer) }, logger.forComponent('palm:bench:journal'))
  await replica.start()
  const sync = createJournalSync({ syncIntervalMs: 500 }, { node, replica, logger })
  await sync.start()
  return {
    node, meta, replica, sync, dir,
    stop: async () => { await sync.stop(); stopAdmitting(); replica.stop(); await meta.stop(); await node.stop() }
  }
}

/** Child role (device A): writes OPS ops, reports, serves until stdin closes. */
async function source (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'palm-bench-journal-a-'))
  const d = await startDevice(new Uint8Array(Buffer.from(process.env.PALM_BENCH_KEY ?? '', 'hex')), dir)
  const t0 = performance.now()
  const dirs = await Promise.all(Array.from({ length: DIRS }, async (_, i) => await d.meta.create(ROOT_INO, `d${i}`, { type: 'dir', mode: 0o755, uid: 0, gid: 0 })))
  const files = OPS - DIRS
  for (let i = 0; i < files; i += 512) {
    const n = Math.min(512, files - i)
    await Promise.all(Array.from({ length: n }, async (_, j) => await d.meta.create(dirs[(i + j) % DIRS].ino, `file-${i + j}`, { type: 'file', mode: 0o644, uid: 1000, gid: 1000 })))
  }
  await d.meta.sync()
  const writeSec = (performance.now() - t0) / 1000
  await new Promise(resolve => setTimeout(resolve, 200))
  let journalBytes = 0
  for (const f of ['journal.db', 'journal.db-wal']) journalBytes += await stat(join(dir, f)).then(s => s.size, () => 0)
  console.log('READY ' + JSON.stringify({ addr: d.node.multiaddrs()[0].toString(), id: d.node.peerId.toString(), writeSec, journalBytes, ops: d.meta.stats().ops }))
  process.stdin.resume()
  await new Promise(resolve => process.stdin.on('end', resolve))
  await d.stop()
  await rm(dir, { recursive: true, force: true })
}

interface Source { addr: string, id: string, writeSec: number, journalBytes: number, ops: number }

/** CPU time of this process's main thread so far, µs (from /proc: 10 ms ticks). */
async function mainThreadCpu (): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  const f = (await readFile(`/proc/self/task/${process.pid}/stat`, 'utf8')).split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) * 1e6 / 100
}

/** One catch-up: a fresh B pulls everything from A. */
async function catchUp (swarmKey: Uint8Array, a: Source, childCpu: () => Promise<number>): Promise<{ sec: number, steadyOpsPerSec: number, cpuUsPerOp: number, mainUsPerOp: number, sourceCpuUsPerOp: number, gc: GcPauses }> {
  const dir = await mkdtemp(join(tmpdir(), 'palm-bench-journal-b-'))
  const b = await startDevice(swarmKey, dir)
  const gc = watchGc()
  try {
    const childBefore = await childCpu()
    const cpu0 = process.cpuUsage()
    const main0 = await mainThreadCpu()
    const t0 = performance.now()
    let t10 = 0
    let t90 = 0
    await b.node.dial(a.addr)
    for (;;) {
      const held = b.replica.versionVector().get(a.id) ?? 0
      const now = performance.now()
      if (t10 === 0 && held >= a.ops * 0.1) t10 = now
      if (t90 === 0 && held >= a.ops * 0.9) t90 = now
      if (held >= a.ops) break
      if (now - t0 > 600_000) throw new Error(`catch-up stalled at ${held} of ${a.ops} ops`)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    const sec = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    const mainCpu = await mainThreadCpu() - main0
    const sourceCpu = await childCpu() - childBefore
    return { sec, steadyOpsPerSec: (a.ops * 0.8) / ((t90 - t10) / 1000), cpuUsPerOp: (cpu.user + cpu.system) / a.ops, mainUsPerOp: mainCpu / a.ops, sourceCpuUsPerOp: sourceCpu / a.ops, gc: gc.stop(a.ops) }
  } finally {
    gc.stop(a.ops)
    await b.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

/** B's garbage-collection pauses on its main thread during a catch-up, per op: scavenges (young generation) and the rest (mark-compact, incremental steps). */
interface GcPauses { scavenges: number, scavengeUsPerOp: number, otherUsPerOp: number }

function watchGc (): { stop: (ops: number) => GcPauses } {
  let scavenges = 0
  let scavengeMs = 0
  let otherMs = 0
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (((e as PerformanceEntry & { detail?: { kind?: number } }).detail)?.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) { scavenges++; scavengeMs += e.duration } else otherMs += e.duration
    }
  })
  obs.observe({ entryTypes: ['gc'] })
  let result: GcPauses | undefined
  return {
    stop: (ops) => {
      if (result == null) {
        obs.disconnect()
        result = { scavenges, scavengeUsPerOp: scavengeMs * 1000 / ops, otherUsPerOp: otherMs * 1000 / ops }
      }
      return result
    }
  }
}

/** The same ops applied straight from memory to a fresh journal (no network). */
async function applyLocal (ops: Array<{ author: string, seq: number, body: string, sig: Uint8Array }>): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'palm-bench-journal-c-'))
  const meta = createMetaStore({ path: join(dir, 'journal.db'), deviceId: 'bench-local', logger: defaultLogger() })
  await meta.start()
  // Trusts the authors as an admission would (their device ids embed their keys).
  for (const author of new Set(ops.map(o => o.author))) await meta.trustAuthor(author, peerIdFromString(author).publicKey?.raw ?? new Uint8Array(0))
  const replica = new MetaReplica(meta, { deviceId: 'bench-local' }, defaultLogger().forComponent('palm:bench:journal'))
  await replica.start()
  try {
    const t0 = performance.now()
    for (let i = 0; i < ops.length;) {
      // About 2048 ops, ending on a seal as a server sends them (the ops after a seal wait for the next).
      let end = Math.min(i + 2048, ops.length)
      while (end < ops.length && ops[end - 1].sig.byteLength === 0) end++
      const r = await replica.applyOps(ops.slice(i, end), 'memory')
      if (r.refused.length > 0 || r.applied !== end - i) throw new Error(`local apply took ${r.applied} of ${end - i} ops${r.refused.length > 0 ? `: ${r.refused[0].reason}` : ''}`)
      i = end
    }
    return ops.length / ((performance.now() - t0) / 1000)
  } finally {
    replica.stop()
    await meta.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

async function main (): Promise<void> {
  const swarmKey = generateSwarmKey()
  const child = spawn(process.execPath, ['--import', POLYFILL, SELF, '--source', '--ops', String(OPS)], { env: { ...process.env, PALM_BENCH_KEY: Buffer.from(swarmKey).toString('hex') }, stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise(resolve => child.on('exit', resolve))
  let buf = ''
  const waiting: Array<(line: string) => void> = []
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (c: string) => {
    buf += c
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      if (line.startsWith('READY ')) waiting.shift()?.(line)
    }
  })
  const nextLine = async (): Promise<string> => await new Promise(resolve => waiting.push(resolve))
  try {
    console.log(`device A writes ${OPS} ops…`)
    const a = JSON.parse((await nextLine()).slice(6)) as Source
    console.log(`A wrote ${a.ops} ops in ${a.writeSec.toFixed(1)} s; B catches up ${ROUNDS} times`)
    // The child's CPU is read from /proc (it keeps serving between rounds).
    const childCpu = async (): Promise<number> => {
      const { readFile } = await import('node:fs/promises')
      const f = (await readFile(`/proc/${child.pid}/stat`, 'utf8')).split(') ')[1].split(' ')
      return (Number(f[11]) + Number(f[12])) * 1e6 / 100
    }
    const rounds = []
    for (let r = 0; r < ROUNDS; r++) {
      const res = await catchUp(swarmKey, a, childCpu)
      console.log(`round ${r + 1}: ${res.sec.toFixed(2)} s, steady ${Math.round(res.steadyOpsPerSec)} ops/s, B ${res.cpuUsPerOp.toFixed(0)} µs CPU/op (main thread ${res.mainUsPerOp.toFixed(0)}), A ${res.sourceCpuUsPerOp.toFixed(0)} µs CPU/op; B's GC pauses: ${res.gc.scavenges} scavenges ${res.gc.scavengeUsPerOp.toFixed(1)} µs/op, others ${res.gc.otherUsPerOp.toFixed(1)} µs/op; B's peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`)
      rounds.push(res)
    }
    if (CATCH_UP_ONLY) return
    // The baseline: the same ops from memory, read back from a device that caught up.
    const dir = await mkdtemp(join(tmpdir(), 'palm-bench-journal-r-'))
    const reader = await startDevice(swarmKey, dir)
    let localOpsPerSec = NaN
    try {
      await reader.node.dial(a.addr)
      while ((reader.replica.versionVector().get(a.id) ?? 0) < a.ops) await new Promise(resolve => setTimeout(resolve, 50))
      const ops = await reader.replica.readOps(a.id, 0, a.ops, Number.MAX_SAFE_INTEGER)
      localOpsPerSec = await applyLocal(ops)
    } finally {
      await reader.stop()
      await rm(dir, { recursive: true, force: true })
    }
    const best = rounds.reduce((x, y) => (y.sec < x.sec ? y : x))
    console.log(`journal size of ${OPS} ops before and after compaction…`)
    const bytes = await journalBytes(OPS)
    console.log('CPU of ops applied one push at a time against one call…')
    const pushes = await pushCost(1000)
    console.log('close → visible through two mounts on the namespace LAN…')
    const visible = await closeToVisible(40)
    const result = {
      journalBytesPer100kOps: { beforeCompaction: Math.round(bytes.before * 100_000 / OPS), afterCompaction: Math.round(bytes.after * 100_000 / OPS), note: `${OPS} create ops of one device, SQLite file after VACUUM; compaction drops the undo records every device has passed` },
      closeToVisibleMs: visible,
      smallPushes: pushes,
      catchUp100kSec: Number((best.sec * 100_000 / a.ops).toFixed(2)),
      remoteApplyOpsPerSec: Math.round(Math.max(...rounds.map(r => r.steadyOpsPerSec))),
      applyLocalOpsPerSec: Math.round(localOpsPerSec),
      cpu: { receiverUsPerOp: Math.round(best.cpuUsPerOp), receiverMainThreadUsPerOp: Math.round(best.mainUsPerOp), sourceUsPerOp: Math.round(best.sourceCpuUsPerOp) },
      sourceWriteOpsPerSec: Math.round(a.ops / a.writeSec),
      journalBytes: a.journalBytes,
      ops: a.ops,
      rounds: rounds.map(r => ({ sec: Number(r.sec.toFixed(2)), steadyOpsPerSec: Math.round(r.steadyOpsPerSec), receiverCpuUsPerOp: Math.round(r.cpuUsPerOp), receiverMainThreadUsPerOp: Math.round(r.mainUsPerOp), sourceCpuUsPerOp: Math.round(r.sourceCpuUsPerOp) })),
      targets: { remoteApplyOpsPerSec: 10_000, catchUp100kSec: 20, closeToVisibleP50Ms: 500 },
      setup: `loopback, 2 processes (A serves, B pulls), ${a.ops} create ops in ${DIRS} directories, file-backed journals, batches of 2048 ops / 1 MiB; best of ${ROUNDS}${a.ops !== 100_000 ? '; catchUp100kSec scaled from ' + a.ops + ' ops' : ''}`
    }
    console.table({
      'catch-up of 100k ops, s': { value: result.catchUp100kSec, target: '≤ 20' },
      'remote apply, ops/s': { value: result.remoteApplyOpsPerSec, target: '≥ 10000' },
      'apply from memory, ops/s': { value: result.applyLocalOpsPerSec, target: '' },
      'B CPU µs per op': { value: result.cpu.receiverUsPerOp, target: '' },
      'B main-thread CPU µs per op': { value: result.cpu.receiverMainThreadUsPerOp, target: '' },
      'A CPU µs per op served': { value: result.cpu.sourceUsPerOp, target: '' },
      'A local writes, ops/s': { value: result.sourceWriteOpsPerSec, target: '' },
      'CPU µs per op, one op per push': { value: pushes.onePerPushCpuUsPerOp, target: '' },
      'CPU µs per op, 1000 ops in one call': { value: pushes.oneCallCpuUsPerOp, target: '' },
      'journal bytes (A)': { value: result.journalBytes, target: '' },
      'journal bytes per 100k ops, before compaction': { value: result.journalBytesPer100kOps.beforeCompaction, target: '' },
      'journal bytes per 100k ops, after compaction': { value: result.journalBytesPer100kOps.afterCompaction, target: '' },
      'close → visible p50, ms': { value: result.closeToVisibleMs.p50 ?? 'skipped', target: '≤ 500' },
      'close → visible p99, ms': { value: result.closeToVisibleMs.p99 ?? 'skipped', target: '' }
    })
    writeResults('journal', result)
  } finally {
    child.stdin.end()
    await exited
  }
}

if (process.argv.includes('--source')) await source()
else await main()
