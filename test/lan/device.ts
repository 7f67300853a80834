/**
 * A protocol-level probe for the LAN tests (the devices themselves are `palm serve`): a PalmNode over the
 * file store in --home, mDNS on, the DHT on. It prints JSON lines on stdout — `{"event":"READY"}`
 * first, then online/offline events — and answers JSON-line requests on stdin
 * (`{"id":1,"cmd":"status"}` → `{"reply":1,"ok":true,"result":…}`): status, put, get, fuzz, invite.
 * SIGTERM/SIGINT stop it cleanly (exit 0).
 *
 * Usage: device.js --home DIR --name NAME --tag SERVICE_TAG [--invite CODE] [--listen MA]…
 *                  [--gossip-ms N] [--offline-ms N] [--mdns-ms N] [--capacity BYTES]
 */
import '../../src/util/polyfill.js'
import { createHash, randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createInterface } from 'node:readline'
import { createPalmNode, decodeInvite, encodeInvite, loadOrCreatePeerKey, loadOrCreateSwarmKey, saveSwarmKey, FRAGMENT_PROTOCOL, HEALTH_PROTOCOL, DHT_PROTOCOL, type PalmNode } from '../../src/net/index.js'
import { createFsStore } from '../../src/store/index.js'
import { cidOf, parseCid } from '../../src/util/cid.js'
import { prefixLogger } from '../../src/util/logger.js'

const { values: args } = parseArgs({
  options: {
    home: { type: 'string' },
    name: { type: 'string' },
    tag: { type: 'string' },
    invite: { type: 'string' },
    listen: { type: 'string', multiple: true },
    'gossip-ms': { type: 'string' },
    'offline-ms': { type: 'string' },
    'mdns-ms': { type: 'string' },
    capacity: { type: 'string' }
  }
})

function out (obj: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

/** `size` bytes expanded from `seed` (SHA-256 in counter mode): both sides can recompute them. */
export function seededBytes (seed: string, size: number): Uint8Array {
  const out = new Uint8Array(size)
  for (let off = 0, i = 0; off < size; off += 32, i++) {
    out.set(createHash('sha256').update(`${seed}:${i}`).digest().subarray(0, Math.min(32, size - off)), off)
  }
  return out
}

function sha256 (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** Sends junk to every protocol of `peer` and raw junk to its TCP port. */
async function fuzz (node: PalmNode, peer: string, rounds: number): Promise<number> {
  let sent = 0
  const protocols = [FRAGMENT_PROTOCOL, HEALTH_PROTOCOL, DHT_PROTOCOL, '/ipfs/id/1.0.0', '/ipfs/ping/1.0.0']
  for (let i = 0; i < rounds; i++) {
    for (const protocol of protocols) {
      const junk = i % 3 === 0
        ? Buffer.concat([Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f), randomBytes(64)])
        : i % 3 === 1 ? Buffer.concat([Uint8Array.of(40, 1, 1, 200), randomBytes(39)]) : randomBytes(1 + (i * 7919) % 20_000)
      try {
        const stream = await node.openStream(peer, protocol, { signal: AbortSignal.timeout(5_000) })
        stream.send(junk)
        await stream.close({ signal: AbortSignal.timeout(2_000) }).catch(() => {})
        stream.abort(new Error('fuzz done'))
        sent++
      } catch {}
    }
  }
  const tcp = node.membership.get(peer)?.addrs.find(a => a.startsWith('/ip4/'))?.split('/')
  if (tcp != null) {
    for (let i = 0; i < rounds; i++) {
      await new Promise<void>((resolve) => {
        const sock = connect(Number(tcp[4]), tcp[2], () => { sock.end(randomBytes(1 + i * 1000)) })
        sock.on('error', () => { resolve() })
        sock.on('close', () => { resolve() })
        sock.setTimeout(10_000, () => { sock.destroy() })
      })
      sent++
    }
  }
  return sent
}

async function main (): Promise<void> {
  const home = args.home ?? ''
  const name = args.name ?? 'device'
  if (home === '') throw new Error('--home is required')
  let bootstrap: string[] = []
  let swarmKey: Uint8Array
  if (args.invite != null) {
    const invite = decodeInvite(args.invite)
    await saveSwarmKey(join(home, 'swarm.key'), invite.swarmKey)
    swarmKey = invite.swarmKey
    bootstrap = invite.addrs.map(String)
  } else {
    swarmKey = await loadOrCreateSwarmKey(join(home, 'swarm.key'))
  }
  const logger = prefixLogger(name)
  const store = createFsStore({ path: join(home, 'fragments'), capacityBytes: args.capacity != null ? Number(args.capacity) : 1024 ** 3 }, { logger })
  await store.start()
  const startedAt = Date.now()
  const node = createPalmNode({
    peerKey: await loadOrCreatePeerKey(join(home, 'peer.key')),
    swarmKey,
    listen: args.listen ?? ['/ip4/0.0.0.0/tcp/0'],
    mdns: { enabled: true, serviceTag: args.tag, intervalMs: Number(args['mdns-ms'] ?? 1_000) },
    dht: { enabled: true },
    bootstrap,
    peersFile: join(home, 'peers.json'),
    gossipIntervalMs: Number(args['gossip-ms'] ?? 500),
    offlineAfterMs: Number(args['offline-ms'] ?? 2_500),
    redialIntervalMs: 1_000,
    fallbackDialDelayMs: 1_000
  }, {
    store,
    logger,
    getHealth: () => ({ name, ...store.usage(), journalHead: '', version: 'lan-test' })
  })
  node.addEventListener('peer:online', (e) => { out({ event: 'online', peer: e.detail.id, name: e.detail.name, atMs: Date.now() - startedAt }) })
  node.addEventListener('peer:offline', (e) => { out({ event: 'offline', peer: e.detail.id, name: e.detail.name, atMs: Date.now() - startedAt }) })

  let stopping: Promise<void> | undefined
  const stop = (): void => {
    stopping ??= (async () => {
      await node.stop()
      await store.stop()
      process.exit(0)
    })()
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)

  await node.start()
  out({ event: 'READY', id: node.peerId.toString(), addrs: node.multiaddrs().map(String) })

  const commands: Record<string, (req: Record<string, any>) => Promise<unknown>> = {
    status: async () => ({ id: node.peerId.toString(), addrs: node.multiaddrs().map(String), peers: node.membership.peers(), connected: node.connectedPeers(), stats: node.stats() }),
    invite: async () => encodeInvite({ swarmKey, addrs: node.multiaddrs() }),
    put: async (r) => {
      const bytes = seededBytes(String(r.seed), Number(r.size))
      const cid = cidOf(bytes)
      await node.fragments.put(String(r.peer), cid, bytes)
      return { cid: cid.toString(), sha256: sha256(bytes) }
    },
    get: async (r) => {
      const bytes = await node.fragments.get(String(r.peer), parseCid(String(r.cid)))
      return { size: bytes.byteLength, sha256: sha256(bytes) }
    },
    fuzz: async (r) => ({ sent: await fuzz(node, String(r.peer), Number(r.rounds ?? 5)) })
  }
  createInterface({ input: process.stdin }).on('line', (line) => {
    let req: Record<string, any>
    try { req = JSON.parse(line) } catch { out({ event: 'bad-request', line }); return }
    const fn = commands[String(req.cmd)]
    if (fn == null) { out({ reply: req.id, ok: false, error: `unknown command ${String(req.cmd)}` }); return }
    fn(req).then(
      (result) => { out({ reply: req.id, ok: true, result }) },
      (err: Error) => { out({ reply: req.id, ok: false, error: `${err.name}: ${err.message}` }) }
    )
  })
}

main().catch((err) => {
  process.stderr.write(`device failed: ${err?.stack ?? String(err)}\n`)
  process.exit(1)
})
