/**
 * Devices for the journal-replication tests: a loopback PalmNode (net-helpers), a real file-backed
 * SQLite journal signed with the node's own key, the daemon's MetaReplica over it and the
 * JournalSync under test. Each piece registers its cleanup when it is made; a device can be stopped
 * and started again on the same directory (same key, same journal).
 */
import '../../../src/util/polyfill.js'
import { join } from 'node:path'
import { format } from 'node:util'
import pWaitFor from 'p-wait-for'
import type { ComponentLogger, Logger } from '@libp2p/interface'
import { MetaReplica } from '../../../src/daemon/journal-replica.js'
import { opSigner } from '../../../src/daemon/signer.js'
import { createMetaStore, ROOT_INO, type SqliteMetaStore } from '../../../src/meta/index.js'
import { admitDevice, admitPeers } from '../../../src/daemon/admission.js'
import { createJournalSync, loadOrCreatePeerKey, type JournalReplica, type JournalSync, type JournalSyncInit, type WireOp } from '../../../src/net/index.js'
import { prefixLogger } from '../../../src/util/logger.js'
import { createTempDir, onCleanup, type Cleanup } from '../../helpers/tmp.js'
import { createTestNode, type TestNode } from './net-helpers.js'

/** A logger that also keeps every line logged (events and errors) for assertions. */
export function capturingLogger (name: string, lines: string[]): ComponentLogger {
  const base = prefixLogger(name)
  const wrap = (component: string, l: Logger): Logger => {
    const record = (fmt: unknown, args: unknown[]): void => { lines.push(`${component}: ${format(String(fmt).replace(/%[ep]/g, '%s'), ...args)}`) }
    const logger = Object.assign((fmt: unknown, ...args: unknown[]) => { record(fmt, args); l(fmt, ...args) }, {
      error: (fmt: unknown, ...args: unknown[]) => { record(fmt, args); l.error(fmt, ...args) },
      trace: (fmt: unknown, ...args: unknown[]) => { l.trace(fmt, ...args) },
      enabled: l.enabled,
      newScope: (n: string) => wrap(`${component}:${n}`, l.newScope(n))
    })
    return logger
  }
  return { forComponent: (component: string) => wrap(component, base.forComponent(component)) }
}

export interface JournalDevice {
  name: string
  dir: string
  id: string
  net: TestNode
  meta: SqliteMetaStore
  replica: MetaReplica
  sync: JournalSync
  /** Every line logged by this device. */
  lines: string[]
  /** Stops the device (sync, replica, journal, node); its directory stays. */
  stop: () => Promise<void>
}

export interface JournalDeviceOptions {
  name: string
  swarmKey: Uint8Array
  /** Reuse a directory: the same key and journal. */
  dir?: string
  sync?: JournalSyncInit
  /** Wraps the replica the sync sees (to slow it down, count calls…). */
  wrapReplica?: (r: JournalReplica) => JournalReplica
}

const FAST: JournalSyncInit = { syncIntervalMs: 200, fullSyncIntervalMs: 2_000 }

export async function createJournalDevice (t: Cleanup, o: JournalDeviceOptions): Promise<JournalDevice> {
  const dir = o.dir ?? await createTempDir(t, `palm-journal-${o.name}-`)
  const lines: string[] = []
  const logger = capturingLogger(o.name, lines)
  const peerKey = await loadOrCreatePeerKey(join(dir, 'peer.key'))
  const net = await createTestNode(t, { name: o.name, dir, peerKey, swarmKey: o.swarmKey })
  const id = net.node.peerId.toString()
  const signer = opSigner(peerKey)
  const meta = createMetaStore({ path: join(dir, 'journal.db'), deviceId: id, sign: signer.sign, signAsync: signer.signAsync, publicKey: signer.publicKey, logger })
  await meta.start()
  onCleanup(t, async () => { await meta.stop() })
  // As the daemon does: every device met over the protected swarm is admitted to the journal.
  const stopAdmitting = admitPeers(meta, net.node.membership, logger.forComponent('palm:daemon:admission'))
  onCleanup(t, () => { stopAdmitting() })
  const replica = new MetaReplica(meta, { deviceId: id, admit: async (peer) => await admitDevice(meta, peer) }, logger.forComponent('palm:daemon:journal'))
  await replica.start()
  onCleanup(t, () => { replica.stop() })
  const sync = createJournalSync({ ...FAST, ...o.sync }, { node: net.node, replica: o.wrapReplica?.(replica) ?? replica, logger })
  await sync.start()
  onCleanup(t, async () => { await sync.stop() })
  const stop = async (): Promise<void> => {
    await sync.stop()
    stopAdmitting()
    replica.stop()
    await meta.stop()
    await net.node.stop()
  }
  return { name: o.name, dir, id, net, meta, replica, sync, lines, stop }
}

/** Connects `a` to `b` and waits until both see each other online. */
export async function connect (a: JournalDevice, b: JournalDevice): Promise<void> {
  await a.net.node.dial(b.net.node.multiaddrs()[0])
  await pWaitFor(() => a.net.node.membership.get(b.id)?.online === true && b.net.node.membership.get(a.id)?.online === true, { timeout: 20_000, interval: 20 })
  // Each has logged its admission of the other (daemon/admission.ts): later ops come after it.
  await pWaitFor(async () => await admits(a, b.id) && await admits(b, a.id), { timeout: 20_000, interval: 20 })
}

/** Whether `d`'s journal holds an admission of device `id`. */
async function admits (d: JournalDevice, id: string): Promise<boolean> {
  for await (const s of d.meta.exportOps()) if (s.op.kind === 'admit' && s.op.device === id) return true
  return false
}

/** Creates `count` files named `prefix-<i>` in the root of `d`'s journal (concurrently, in groups). */
export async function writeOps (d: JournalDevice, count: number, prefix = 'f'): Promise<void> {
  for (let i = 0; i < count; i += 256) {
    const n = Math.min(256, count - i)
    await Promise.all(Array.from({ length: n }, async (_, j) => await d.meta.create(ROOT_INO, `${prefix}-${i + j}`, { type: 'file', mode: 0o644, uid: 0, gid: 0 })))
  }
}

/** The last seq of `d`'s own ops, all committed (its admissions of the devices it met count too). */
export async function own (d: JournalDevice): Promise<number> {
  let last = 0
  for await (const s of d.meta.exportOps()) if (s.op.author === d.id && s.op.seq > last) last = s.op.seq
  return last
}

/** Waits until `d` holds `seq` ops of `author` (generous: the machine may be loaded). */
export async function waitHolds (d: JournalDevice, author: string, seq: number, timeoutMs = 60_000): Promise<void> {
  await pWaitFor(() => (d.replica.versionVector().get(author) ?? 0) >= seq, { timeout: { milliseconds: timeoutMs, message: `${d.name} holds ${d.replica.versionVector().get(author) ?? 0} of ${seq} ops of ${author}` }, interval: 20 })
}

/** The op log of `d` (only `author`'s ops, if given) as (author, seq, body) triples in total order: equal logs give equal trees. */
export async function logOf (d: JournalDevice, author?: string): Promise<string[]> {
  const out: string[] = []
  for await (const s of d.meta.exportOps()) if (author === undefined || s.op.author === author) out.push(`${s.op.seq}@${s.op.author} ${s.body}`)
  return out
}

/** Names in the root directory of `d`, sorted. */
export async function rootNames (d: JournalDevice): Promise<string[]> {
  const names: string[] = []
  for (let cookie = 0; ;) {
    const page = await d.meta.readdir(ROOT_INO, cookie, 1000)
    if (page.length === 0) break
    for (const e of page) names.push(e.name)
    cookie = page[page.length - 1].cookie
  }
  return names.sort()
}

/** `r` as the sync sees it, with `applyOps` before each apply (to count or slow down what peers send). */
export function beforeApply (r: JournalReplica, hook: (ops: WireOp[], peer: string) => unknown): JournalReplica {
  return {
    versionVector: () => r.versionVector(),
    onLocalOps: (l) => r.onLocalOps(l),
    readOps: async (...args) => await r.readOps(...args),
    commitPending: async (o) => { await r.commitPending?.(o) },
    applyOps: async (ops, peer, options) => { await hook(ops, peer); return await r.applyOps(ops, peer, options) }
  }
}
