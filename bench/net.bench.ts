/**
 * Network benchmark: fragment transfer between two devices on loopback (two processes: this one
 * and a child running `net.bench.js --peer`), against a plain TCP socket copy between the same two
 * processes as the ceiling. Then, when root, the mDNS discovery time of six devices in network
 * namespaces (the LAN test's setup). Prints a table and writes bench/results/net.json.
 *
 *   putMBps        1 MiB fragments, putMany with 4 streams in flight       (MB = 10^6 bytes;
 *                  `--concurrency N` changes the 4 here and below)
 *   getMBps        the same fragments fetched back, 4 gets in flight
 *   tcpMBps        one TCP connection, the same byte count, no protocol
 *   streamMBps     libp2p streams between the same two nodes (swarm-key gate + noise + yamux), 4 streams,
 *                  no PALM protocol: the transport's own ceiling, to tell protocol cost from transport cost
 *   cpuMsPerMiB    for put, get and stream: CPU ms per MiB moved of this process (`client`) and of
 *                  the serving child (`server`), user + system, the round with the least in all
 *   smallOpsPerSec 4 KiB fragments stored per second with batching (putMany)
 *   discoverySec   spawn of 6 devices → every device sees the 5 others online (null when not root,
 *                  or with --no-lan)
 *   smallPutLatencyUs    one putMany of ONE 1.1 KB fragment (a 4 KiB file's fragment at k = 4), one
 *                  after another on a reused session: round trip median/p90 in µs, and the CPU µs per
 *                  request of the serving child (process.cpuUsage) and of this process
 *   smallStreamLatencyUs the same exchange on a bare libp2p stream (1.1 KB request, 4-byte reply; no
 *                  PALM protocol): the transport's share of smallPutLatencyUs
 *
 * Flags: `--small-only` runs only the two latency figures (prints them; net.json is not written),
 * `--profile-peer DIR` runs the child under `node --cpu-prof --cpu-prof-dir DIR` (profile written at
 * its exit), `--small-count N` changes the number of timed requests (default 5000) and
 * `--small-warmup N` the untimed ones before them (default 2000, to warm the JIT), `--small-skip
 * put|stream` leaves one of the two out (for profiling the other), `--fs-store` gives the child the
 * file store (packs, as a serving device has) in a temp dir instead of the memory store.
 */
import '../src/util/polyfill.js'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { connect, createServer, type Socket } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { byteStream } from '@libp2p/utils'
import { createPalmNode, formatSwarmKey, generateSwarmKey, type PalmNode } from '../src/net/index.js'
import { createFsStore } from '../src/store/index.js'
import { MemoryFragmentStore } from '../src/store/memory-store.js'
import type { FragmentStore } from '../src/store/types.js'
import { cidOf } from '../src/util/cid.js'
import { defaultLogger } from '../src/util/logger.js'

const SELF = fileURLToPath(import.meta.url)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const POLYFILL = join(ROOT, 'dist/src/util/polyfill.js')
const MB = 1e6
const LARGE = 1024 * 1024
const LARGE_COUNT = 192
const SMALL = 4096
const SMALL_COUNT = 8192
const ROUNDS = 3
/** Streams / gets in flight (`--concurrency N`, default 4). */
const CONCURRENCY = argNumber('--concurrency') ?? 4
const SINK = '/palm-bench/sink/1.0.0'
/** Bare-stream counterpart of a small put: reads SMALL_PUT bytes, answers SMALL_ACK bytes, repeats. */
const PINGPONG = '/palm-bench/pingpong/1.0.0'
/** A 4 KiB file's fragment at k = 4: 1 KiB of data plus the fragment header. */
const SMALL_PUT = 1126
/** About the size of a PUT_RES for one fragment. */
const SMALL_ACK = 4
const SMALL_WARMUP = argNumber('--small-warmup') ?? 2000
const SMALL_TIMED = argNumber('--small-count') ?? 5000

/** The word after `flag` on the command line, if the flag is there. */
function argValue (flag: string): string | undefined {
  const i = process.argv.indexOf(flag)
  return i >= 0 ? process.argv[i + 1] : undefined
}

/** A positive number after `flag`, if given. */
function argNumber (flag: string): number | undefined {
  const n = Number(argValue(flag))
  return n > 0 ? n : undefined
}

function makeNode (swarmKey: Uint8Array, store: FragmentStore): PalmNode {
  return createPalmNode({
    swarmKey,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: { enabled: false },
    dht: { enabled: false },
    putConcurrency: CONCURRENCY
  }, {
    store,
    logger: defaultLogger(),
    getHealth: () => ({ name: 'bench', ...store.usage(), journalHead: '', version: 'bench' }),
    // a scratch store: the rounds' fragments may go (a node without this refuses every DELETE)
    mayDelete: async () => []
  })
}

/** Child role: a device over a memory store plus a TCP sink that acks after N bytes. */
async function peer (): Promise<void> {
  let store: FragmentStore = new MemoryFragmentStore()
  let storeDir: string | undefined
  if (process.argv.includes('--fs-store')) {
    storeDir = await mkdtemp(join(tmpdir(), 'palm-bench-net-store-'))
    const fs = createFsStore({ path: storeDir, capacityBytes: 64 * 2 ** 30 })
    await fs.start()
    store = fs
  }
  const node = makeNode(new Uint8Array(Buffer.from(process.env.PALM_BENCH_KEY ?? '', 'hex')), store)
  await node.handle(SINK, (stream) => {
    void (async () => {
      for await (const _ of stream) { /* discard */ }
      stream.send(Uint8Array.of(1))
      await stream.close()
    })().catch((err) => { stream.abort(err) })
  })
  await node.handle(PINGPONG, (stream) => {
    let pending = 0
    stream.addEventListener('message', (evt) => {
      pending += evt.data.byteLength
      while (pending >= SMALL_PUT) {
        pending -= SMALL_PUT
        stream.send(new Uint8Array(SMALL_ACK))
      }
    })
  })
  await node.start()
  // `cpu` on stdin → `CPU {"user":µs,"system":µs}` (the child's own CPU, for per-request cost)
  let cmd = ''
  process.stdin.setEncoding('utf8').on('data', (c: string) => {
    cmd += c
    for (let nl = cmd.indexOf('\n'); nl >= 0; nl = cmd.indexOf('\n')) {
      const line = cmd.slice(0, nl)
      cmd = cmd.slice(nl + 1)
      if (line === 'cpu') process.stdout.write(`CPU ${JSON.stringify(process.cpuUsage())}\n`)
    }
  })
  const sink = createServer((sock: Socket) => {
    let want = -1
    let got = 0
    let header = Buffer.alloc(0)
    sock.on('data', (chunk: Buffer) => {
      if (want < 0) {
        header = Buffer.concat([header, chunk])
        if (header.byteLength < 8) return
        want = Number(header.readBigUInt64BE(0))
        chunk = header.subarray(8)
      }
      got += chunk.byteLength
      if (got >= want) sock.end(Uint8Array.of(1))
    })
  })
  await new Promise<void>((resolve) => { sink.listen(0, '127.0.0.1', resolve) })
  process.stdout.write(`READY ${JSON.stringify({ addr: node.multiaddrs()[0].toString(), tcpPort: (sink.address() as { port: number }).port })}\n`)
  process.on('SIGTERM', () => {
    void (async () => {
      await node.stop()
      await store.stop()
      if (storeDir != null) await rm(storeDir, { recursive: true, force: true })
    })().finally(() => process.exit(0))
  })
}

async function tcpCopy (port: number, bytes: number): Promise<number> {
  const block = randomBytes(LARGE)
  return await new Promise<number>((resolve, reject) => {
    const sock = connect(port, '127.0.0.1')
    let t0 = 0
    sock.on('error', reject)
    sock.on('data', () => { resolve(performance.now() - t0); sock.destroy() })
    sock.on('connect', () => {
      t0 = performance.now()
      const header = Buffer.alloc(8)
      header.writeBigUInt64BE(BigInt(bytes))
      sock.write(header)
      let sent = 0
      const pump = (): void => {
        while (sent < bytes) {
          const n = Math.min(LARGE, bytes - sent)
          sent += n
          if (!sock.write(block.subarray(0, n))) { sock.once('drain', pump); return }
        }
      }
      pump()
    })
  })
}

async function streamCopy (node: PalmNode, peerId: string, bytes: number, streams: number): Promise<number> {
  const block = new Uint8Array(randomBytes(LARGE))
  const t0 = performance.now()
  await Promise.all(Array.from({ length: streams }, async () => {
    const s = await node.openStream(peerId, SINK)
    for (let sent = 0; sent < bytes / streams; sent += LARGE) if (!s.send(block)) await s.onDrain()
    await s.close()
    for await (const _ of s) { /* the ack */ }
  }))
  return performance.now() - t0
}

async function pool<T> (items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next < items.length) await fn(items[next++]) }))
}

async function discovery (): Promise<number | null> {
  const harness = await import('../test/lan/harness.js')
  const helpers = await import('../test/lan/lan-helpers.js')
  if (harness.lanSkipReason() != null) return null
  const cleanups: Array<() => unknown> = []
  const t = { after: (fn: () => unknown) => { cleanups.push(fn) } }
  const root = await mkdtemp(join(tmpdir(), 'palm-bench-lan-'))
  try {
    const names = ['d1', 'd2', 'd3', 'd4', 'd5', 'd6']
    const lan = await harness.createLan(t, { devices: names })
    const keyText = formatSwarmKey(generateSwarmKey())
    const tag = `_palm-bench-${randomBytes(3).toString('hex')}._udp.local`
    for (const n of names) {
      await mkdir(join(root, n), { recursive: true })
      await writeFile(join(root, n, 'swarm.key'), keyText, { mode: 0o600 })
    }
    const t0 = performance.now()
    const devs = await Promise.all(names.map(async n => await harness.startDevice(t, lan.device(n), helpers.deviceCommand({ home: join(root, n), name: n, tag }))))
    await helpers.waitAllOnline(devs, devs.map(helpers.readyId), 60_000)
    return (performance.now() - t0) / 1000
  } finally {
    // t.after registrations run here, last first (helpers/tmp.ts does the same through node:test)
    for (const fn of cleanups.reverse()) { try { await fn() } catch (err) { console.error('cleanup failed:', err) } }
    await rm(root, { recursive: true, force: true })
  }
}

async function main (): Promise<void> {
  const swarmKey = generateSwarmKey()
  const profDir = argValue('--profile-peer')
  const profArgs = profDir != null ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []
  const child = spawn(process.execPath, [...process.execArgv, ...profArgs, '--import', POLYFILL, SELF, '--peer', ...process.argv.filter(a => a === '--fs-store')], { env: { ...process.env, PALM_BENCH_KEY: Buffer.from(swarmKey).toString('hex') }, stdio: ['pipe', 'pipe', 'inherit'] })
  const childExited = new Promise<void>((resolve) => { child.on('exit', () => { resolve() }) })
  const node = makeNode(swarmKey, new MemoryFragmentStore())
  try {
    const lines = childLines(child.stdout)
    const ready = await new Promise<{ addr: string, tcpPort: number }>((resolve, reject) => {
      lines.next('READY ').then(l => { resolve(JSON.parse(l)) }, reject)
      child.on('exit', (code) => { reject(new Error(`bench peer exited with ${code}`)) })
    })
    await node.start()
    const peerId = await node.dial(ready.addr)
    const childCpu = async (): Promise<NodeJS.CpuUsage> => {
      child.stdin.write('cpu\n')
      return JSON.parse(await lines.next('CPU ')) as NodeJS.CpuUsage
    }
    const skip = argValue('--small-skip')
    const smallPut = skip === 'put' ? null : await smallLatency(childCpu, async () => {
      const bytes = new Uint8Array(randomBytes(SMALL_PUT))
      const item = { cid: cidOf(bytes), bytes }
      return async () => {
        const [o] = await node.fragments.putMany(peerId, [item])
        if (!o.ok) throw o.error
      }
    })
    const pp = await node.openStream(peerId, PINGPONG)
    const ppBytes = byteStream(pp)
    const smallStream = skip === 'stream' ? null : await smallLatency(childCpu, async () => {
      const bytes = new Uint8Array(randomBytes(SMALL_PUT))
      return async () => {
        if (!pp.send(bytes)) await pp.onDrain()
        await ppBytes.read({ bytes: SMALL_ACK })
      }
    })
    ppBytes.unwrap()
    await pp.close()
    const latency = { smallPutLatencyUs: smallPut, smallStreamLatencyUs: smallStream }
    if (process.argv.includes('--small-only')) {
      console.log(JSON.stringify({ ...latency, loadavg: loadavg(), setup: `${SMALL_TIMED} sequential requests after ${SMALL_WARMUP} warm-up, ${SMALL_PUT} B each, 2 processes on loopback` }, null, 2))
      return
    }

    const rows: Array<[string, number | string]> = []
    const best = (xs: number[]): number => Math.max(...xs)
    const totalBytes = LARGE * LARGE_COUNT
    const tcp: number[] = []
    const put: number[] = []
    const get: number[] = []
    const small: number[] = []
    const stream: number[] = []
    const cpu: Record<'put' | 'get' | 'stream', CpuPerMiB[]> = { put: [], get: [], stream: [] }
    const mib = totalBytes / LARGE
    for (let round = 0; round < ROUNDS; round++) {
      tcp.push(totalBytes / MB / (await tcpCopy(ready.tcpPort, totalBytes) / 1000))
      let c = await cpuOf(childCpu, mib)
      stream.push(totalBytes / MB / (await streamCopy(node, peerId, totalBytes, CONCURRENCY) / 1000))
      cpu.stream.push(await c())
      const large = Array.from({ length: LARGE_COUNT }, () => { const bytes = new Uint8Array(randomBytes(LARGE)); return { cid: cidOf(bytes), bytes } })
      c = await cpuOf(childCpu, mib)
      let t0 = performance.now()
      const outcomes = await node.fragments.putMany(peerId, large)
      put.push(totalBytes / MB / ((performance.now() - t0) / 1000))
      cpu.put.push(await c())
      if (!outcomes.every(o => o.ok)) throw new Error('a put failed during the benchmark')
      c = await cpuOf(childCpu, mib)
      t0 = performance.now()
      await pool(large, CONCURRENCY, async (f) => { await node.fragments.get(peerId, f.cid) })
      get.push(totalBytes / MB / ((performance.now() - t0) / 1000))
      cpu.get.push(await c())
      const smalls = Array.from({ length: SMALL_COUNT }, () => { const bytes = new Uint8Array(randomBytes(SMALL)); return { cid: cidOf(bytes), bytes } })
      t0 = performance.now()
      const so = await node.fragments.putMany(peerId, smalls)
      small.push(SMALL_COUNT / ((performance.now() - t0) / 1000))
      if (!so.every(o => o.ok)) throw new Error('a small put failed during the benchmark')
      await node.fragments.delete(peerId, [...large, ...smalls].map(f => f.cid))
    }
    const discoverySec = process.argv.includes('--no-lan') ? null : await discovery()
    const result = {
      putMBps: round1(best(put)),
      getMBps: round1(best(get)),
      tcpMBps: round1(best(tcp)),
      streamMBps: round1(best(stream)),
      smallOpsPerSec: Math.round(best(small)),
      discoverySec: discoverySec == null ? null : Number(discoverySec.toFixed(2)),
      ...latency,
      putVsTcp: Number((best(put) / best(tcp)).toFixed(2)),
      getVsTcp: Number((best(get) / best(tcp)).toFixed(2)),
      cpuMsPerMiB: { put: minCpu(cpu.put), get: minCpu(cpu.get), stream: minCpu(cpu.stream) },
      rounds: { putMBps: put.map(round1), getMBps: get.map(round1), tcpMBps: tcp.map(round1), streamMBps: stream.map(round1), smallOpsPerSec: small.map(Math.round) },
      setup: `loopback, 2 processes, ${LARGE_COUNT} × 1 MiB fragments (${CONCURRENCY} streams / ${CONCURRENCY} gets in flight), ${SMALL_COUNT} × 4 KiB batched; best of ${ROUNDS}; MB = 10^6 bytes`,
      measuredAt: new Date().toISOString()
    }
    rows.push(['put MB/s', result.putMBps], ['get MB/s', result.getMBps], ['raw TCP MB/s', result.tcpMBps], ['libp2p stream MB/s', result.streamMBps], ['put / TCP', result.putVsTcp], ['get / TCP', result.getVsTcp],
      ['put CPU ms/MiB sender, receiver', `${result.cpuMsPerMiB.put.client}, ${result.cpuMsPerMiB.put.server}`],
      ['get CPU ms/MiB receiver, sender', `${result.cpuMsPerMiB.get.client}, ${result.cpuMsPerMiB.get.server}`],
      ['stream CPU ms/MiB sender, receiver', `${result.cpuMsPerMiB.stream.client}, ${result.cpuMsPerMiB.stream.server}`],
      ['4 KiB puts/s (batched)', result.smallOpsPerSec], ['6-device discovery s', result.discoverySec ?? NaN],
      ['1.1 KB put µs median', smallPut?.median ?? NaN], ['1.1 KB put µs p90', smallPut?.p90 ?? NaN], ['1.1 KB put server CPU µs', smallPut?.serverCpuUs ?? NaN],
      ['bare stream µs median', smallStream?.median ?? NaN], ['bare stream µs p90', smallStream?.p90 ?? NaN], ['bare stream server CPU µs', smallStream?.serverCpuUs ?? NaN])
    console.table(Object.fromEntries(rows.map(([k, v]) => [k, { value: v }])))
    await mkdir(join(ROOT, 'bench/results'), { recursive: true })
    await writeFile(join(ROOT, 'bench/results/net.json'), JSON.stringify(result, null, 2) + '\n')
  } finally {
    await node.stop()
    child.kill('SIGTERM')
    await childExited
  }
}

/** CPU ms per MiB moved of this process (`client`) and of the serving child (`server`), user + system. */
interface CpuPerMiB { client: number, server: number }

/** Starts counting both processes' CPU; the returned function stops and divides by `mib`. */
async function cpuOf (childCpu: () => Promise<NodeJS.CpuUsage>, mib: number): Promise<() => Promise<CpuPerMiB>> {
  const server0 = await childCpu()
  const client0 = process.cpuUsage()
  return async () => {
    const client = process.cpuUsage(client0)
    const server1 = await childCpu()
    const serverUs = server1.user - server0.user + server1.system - server0.system
    return { client: round1((client.user + client.system) / 1000 / mib), server: round1(serverUs / 1000 / mib) }
  }
}

/** The round with the least CPU in all (the rounds' CPU moves with the machine like their speed). */
function minCpu (xs: CpuPerMiB[]): CpuPerMiB {
  return xs.reduce((a, b) => (b.client + b.server < a.client + a.server ? b : a))
}

/** Lines of the child's stdout; next(prefix) resolves with the rest of the next line that starts with `prefix`. */
function childLines (out: NodeJS.ReadableStream): { next: (prefix: string) => Promise<string> } {
  let buf = ''
  const waiters: Array<{ prefix: string, resolve: (line: string) => void }> = []
  out.setEncoding('utf8')
  out.on('data', (c: string) => {
    buf += c
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      const i = waiters.findIndex(w => line.startsWith(w.prefix))
      if (i >= 0) waiters.splice(i, 1)[0].resolve(line)
    }
  })
  return { next: async (prefix) => await new Promise<string>((resolve) => { waiters.push({ prefix, resolve: (l) => { resolve(l.slice(prefix.length)) } }) }) }
}

export interface LatencyFigure {
  median: number
  p90: number
  /** CPU µs per request of the serving child (user + system), and its system share. */
  serverCpuUs: number
  serverSystemUs: number
  clientCpuUs: number
  count: number
}

/**
 * Runs SMALL_WARMUP + SMALL_TIMED requests one after another (`prepare` builds each request before
 * the clock starts) and returns the round trip's median and p90 with both processes' CPU per request.
 */
async function smallLatency (childCpu: () => Promise<NodeJS.CpuUsage>, prepare: () => Promise<() => Promise<void>>): Promise<LatencyFigure> {
  for (let i = 0; i < SMALL_WARMUP; i++) await (await prepare())()
  const requests = await Promise.all(Array.from({ length: SMALL_TIMED }, prepare))
  const times: number[] = []
  const server0 = await childCpu()
  const client0 = process.cpuUsage()
  for (const run of requests) {
    const t0 = performance.now()
    await run()
    times.push((performance.now() - t0) * 1000)
  }
  const client = process.cpuUsage(client0)
  const server1 = await childCpu()
  const serverUser = server1.user - server0.user
  const serverSystem = server1.system - server0.system
  times.sort((a, b) => a - b)
  return {
    median: Math.round(times[Math.floor(times.length / 2)]),
    p90: Math.round(times[Math.floor(times.length * 0.9)]),
    serverCpuUs: Math.round((serverUser + serverSystem) / SMALL_TIMED),
    serverSystemUs: Math.round(serverSystem / SMALL_TIMED),
    clientCpuUs: Math.round((client.user + client.system) / SMALL_TIMED),
    count: SMALL_TIMED
  }
}

function round1 (x: number): number { return Math.round(x * 10) / 10 }

if (process.argv.includes('--peer')) {
  peer().catch((err) => { console.error(err); process.exit(1) })
} else {
  main().catch((err) => { console.error(err); process.exit(1) })
}
