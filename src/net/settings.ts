/**
 * PalmNodeInit with every default applied once, validated in one pass (all problems reported in
 * one InvalidConfigError).
 */
import { generateKeyPairSync } from 'node:crypto'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { InvalidConfigError } from '../errors.js'
import { SWARM_KEY_BYTES } from '../util/swarm-salt.js'
import * as C from './constants.js'
import { defaultAnnounceFilter } from './libp2p-config.js'
import type { PalmNodeInit } from './types.js'
import type { PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface NodeSettings {
  peerKey: PrivateKey
  swarmKey: Uint8Array
  listen: string[]
  announceFilter: (addrs: Multiaddr[]) => Multiaddr[]
  mdns: { enabled: boolean, serviceTag: string, intervalMs: number }
  dhtEnabled: boolean
  bootstrap: string[]
  peersFile?: string
  gossipIntervalMs: number
  offlineAfterMs: number
  redialIntervalMs: number
  fallbackDialDelayMs: number
  dialTimeoutMs: number
  requestTimeoutMs: number
  maxFragmentBytes: number
  batchBytes: number
  maxBatchCount: number
  putConcurrency: number
  maxInboundStreams: number
  inboundConnectionThreshold: number
  frameBudgetPerPeerBytes: number
  frameBudgetTotalBytes: number
}

/** A throwaway Ed25519 identity (tests, demos): a new peer id on every start. */
export function ephemeralPeerKey (): PrivateKey {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' })
  return privateKeyFromRaw(Buffer.concat([Buffer.from(jwk.d ?? '', 'base64url'), Buffer.from(jwk.x ?? '', 'base64url')]))
}

export function resolveSettings (init: PalmNodeInit): NodeSettings {
  const gossipIntervalMs = init.gossipIntervalMs ?? C.DEFAULT_GOSSIP_INTERVAL_MS
  const s: NodeSettings = {
    peerKey: init.peerKey ?? ephemeralPeerKey(),
    swarmKey: init.swarmKey ?? new Uint8Array(0),
    listen: init.listen ?? C.DEFAULT_LISTEN,
    announceFilter: init.announceFilter ?? defaultAnnounceFilter,
    mdns: {
      enabled: init.mdns?.enabled ?? true,
      serviceTag: init.mdns?.serviceTag ?? C.DEFAULT_SERVICE_TAG,
      intervalMs: init.mdns?.intervalMs ?? C.DEFAULT_MDNS_INTERVAL_MS
    },
    dhtEnabled: init.dht?.enabled ?? true,
    bootstrap: init.bootstrap ?? [],
    peersFile: init.peersFile,
    gossipIntervalMs,
    offlineAfterMs: init.offlineAfterMs ?? gossipIntervalMs * 3 + 1_000,
    redialIntervalMs: init.redialIntervalMs ?? C.DEFAULT_REDIAL_INTERVAL_MS,
    fallbackDialDelayMs: init.fallbackDialDelayMs ?? C.DEFAULT_FALLBACK_DIAL_DELAY_MS,
    dialTimeoutMs: init.dialTimeoutMs ?? C.DEFAULT_DIAL_TIMEOUT_MS,
    requestTimeoutMs: init.requestTimeoutMs ?? C.DEFAULT_REQUEST_TIMEOUT_MS,
    maxFragmentBytes: init.maxFragmentBytes ?? C.DEFAULT_MAX_FRAGMENT_BYTES,
    batchBytes: init.batchBytes ?? C.DEFAULT_BATCH_BYTES,
    maxBatchCount: init.maxBatchCount ?? C.DEFAULT_MAX_BATCH_COUNT,
    putConcurrency: init.putConcurrency ?? C.DEFAULT_PUT_CONCURRENCY,
    maxInboundStreams: init.maxInboundStreams ?? C.DEFAULT_MAX_INBOUND_STREAMS,
    inboundConnectionThreshold: init.inboundConnectionThreshold ?? C.DEFAULT_INBOUND_CONNECTION_THRESHOLD,
    frameBudgetPerPeerBytes: 0,
    frameBudgetTotalBytes: 0
  }
  s.frameBudgetPerPeerBytes = init.frameBudgetPerPeerBytes ?? s.putConcurrency * (s.maxFragmentBytes + C.FRAME_OVERHEAD_BYTES)
  s.frameBudgetTotalBytes = init.frameBudgetTotalBytes ?? 4 * s.frameBudgetPerPeerBytes
  const problems: string[] = []
  if (s.swarmKey.byteLength !== SWARM_KEY_BYTES) problems.push(`swarmKey must be ${SWARM_KEY_BYTES} bytes (got ${s.swarmKey.byteLength}); load it with loadOrCreateSwarmKey or from an invite`)
  const positive: Array<keyof NodeSettings> = ['gossipIntervalMs', 'offlineAfterMs', 'redialIntervalMs', 'dialTimeoutMs', 'requestTimeoutMs',
    'maxFragmentBytes', 'batchBytes', 'maxBatchCount', 'putConcurrency', 'maxInboundStreams', 'inboundConnectionThreshold',
    'frameBudgetPerPeerBytes', 'frameBudgetTotalBytes']
  for (const k of positive) {
    const v = s[k]
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) problems.push(`${k} must be a positive integer (got ${String(v)})`)
  }
  if (!Number.isSafeInteger(s.fallbackDialDelayMs) || s.fallbackDialDelayMs < 0) problems.push(`fallbackDialDelayMs must be a non-negative integer (got ${s.fallbackDialDelayMs})`)
  if (s.offlineAfterMs <= s.gossipIntervalMs) problems.push(`offlineAfterMs (${s.offlineAfterMs}) must be longer than gossipIntervalMs (${s.gossipIntervalMs}), or peers flap offline between announcements`)
  if (s.listen.length === 0) problems.push('listen must name at least one multiaddr')
  if (problems.length > 0) throw new InvalidConfigError(`invalid network settings: ${problems.join('; ')}`, { details: { problems } })
  return s
}
