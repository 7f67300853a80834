/**
 * The peers file: known devices and their addresses, so a restarted device redials its swarm
 * without waiting for discovery. JSON, written atomically (temp file + rename), mode 0600.
 * A damaged file is not fatal: discovery rebuilds it, and the damaged copy is kept beside it.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { printable } from '../util/printable.js'
import { MAX_PERSISTED_ADDRS, MAX_PERSISTED_PEERS } from './constants.js'
import type { KnownPeer } from './membership.js'
import type { Logger } from '@libp2p/interface'

const FILE_VERSION = 1

function valid (p: unknown): p is KnownPeer {
  if (p == null || typeof p !== 'object') return false
  const k = p as Record<string, unknown>
  return typeof k.id === 'string' && k.id.length <= 128 && typeof k.name === 'string' &&
    Array.isArray(k.addrs) && k.addrs.every(a => typeof a === 'string') &&
    typeof k.lastSeenMs === 'number' && Number.isFinite(k.lastSeenMs)
}

/** The peers in `path`; [] when absent or damaged (a damaged file is renamed to `path`.damaged). */
export async function loadPeersFile (path: string, log: Logger): Promise<KnownPeer[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  try {
    const doc = JSON.parse(text) as { version?: unknown, peers?: unknown }
    if (doc.version !== FILE_VERSION || !Array.isArray(doc.peers)) throw new Error(`unsupported peers file version ${String(doc.version)}`)
    // Names were cleaned when heard; a peers file of an older release may hold raw ones.
    return doc.peers.filter(valid).slice(0, MAX_PERSISTED_PEERS).map(p => ({ id: p.id, name: printable(p.name), addrs: p.addrs.slice(0, MAX_PERSISTED_ADDRS), lastSeenMs: p.lastSeenMs }))
  } catch (err) {
    log.error('peers file %s is damaged (%s); starting without it and keeping it as %s.damaged', path, (err as Error).message, path)
    await rename(path, `${path}.damaged`).catch(() => {})
    return []
  }
}

/** Writes the peers (most recently seen first, bounded) to `path` atomically. */
export async function savePeersFile (path: string, peers: KnownPeer[]): Promise<void> {
  const sorted = [...peers].sort((a, b) => b.lastSeenMs - a.lastSeenMs).slice(0, MAX_PERSISTED_PEERS)
  const doc = {
    version: FILE_VERSION,
    peers: sorted.map(p => ({ id: p.id, name: p.name, addrs: p.addrs.slice(0, MAX_PERSISTED_ADDRS), lastSeenMs: p.lastSeenMs }))
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 })
  await rename(tmp, path)
}
