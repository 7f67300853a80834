/**
 * `palm init` and `palm join`: create a device's home, either as the first device of a new swarm
 * or as a member of the swarm of an invite code.
 */
import { statfs } from 'node:fs/promises'
import { dirname } from 'node:path'
import { InvalidArgumentError } from '../errors.js'
import { formatSize } from '../config/parse.js'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PalmConfig, OptionKey } from '../config/defaults.js'
import { OPTIONS } from '../config/defaults.js'
import type { PolicyValue } from '../config/parse.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { decodeInviteCode, loadOrCreatePeerKey, loadOrCreateSwarmKey, redeemInvite, savePeerKey, saveSwarmKey } from '../net/index.js'
import { ExistsError } from '../errors.js'
import { createHome, homePaths, isInitialised, newSwarmInfo, writeFileAtomic, type SwarmInfo } from './home.js'
import { writeAddrsHint } from './swarm-hint.js'
import { decodeSwarmExtra } from './invite.js'
import { KEY_RING_FILE, saveKeyRecord } from './key-ring.js'
import { join } from 'node:path'

export interface DeviceReport {
  home: string
  swarmId: string
  deviceId: string
  deviceName: string
  capacityBytes: number
  policy: PolicyValue
}

/** The settings `palm init`/`join` keep in config.json: the device's own, given or defaulted. */
function persistedSettings (config: PalmConfig, given: Partial<Record<OptionKey, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { name: config.name }
  for (const key of Object.keys(given) as OptionKey[]) {
    if (OPTIONS[key].persisted === true && given[key] !== undefined) out[key] = config[key]
  }
  return out
}

async function offeredCapacity (config: PalmConfig): Promise<number> {
  if (config.capacityBytes > 0) return config.capacityBytes
  try {
    const s = await statfs(dirname(config.home))
    return Math.floor(s.bavail * s.bsize * 0.9)
  } catch {
    return 0
  }
}

/** The disk that will hold `path` (its nearest existing ancestor's file system). */
async function diskOf (path: string): Promise<{ totalBytes: number, freeBytes: number } | undefined> {
  for (let p = path; ; p = dirname(p)) {
    try {
      const s = await statfs(p)
      return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize }
    } catch (err: any) {
      if (err.code !== 'ENOENT' || dirname(p) === p) return undefined
    }
  }
}

/**
 * Refuses a capacity that cannot be right, before anything is written: below the smallest useful
 * one (a few stripes of a few files) or more than the whole disk holding the home.
 */
export async function checkCapacity (config: Pick<PalmConfig, 'capacityBytes' | 'minCapacityBytes' | 'home'>): Promise<void> {
  const c = config.capacityBytes
  if (c === 0) return
  const usage = { details: { usage: true, capacityBytes: c } }
  if (c < config.minCapacityBytes) {
    throw new InvalidArgumentError(`capacity ${formatSize(c)} is below the smallest this device may offer, ${formatSize(config.minCapacityBytes)}; give e.g. --capacity 10G, or leave it out to offer 90% of the free space`, usage)
  }
  const disk = await diskOf(config.home)
  if (disk != null && c > disk.totalBytes) {
    throw new InvalidArgumentError(`capacity ${formatSize(c)} is more than the whole disk holding ${config.home} (${formatSize(disk.totalBytes)}, ${formatSize(disk.freeBytes)} free); give at most --capacity ${Math.floor(disk.freeBytes * 0.9 / 2 ** 30)}G, or leave it out to offer 90% of the free space`, usage)
  }
}

async function finish (config: PalmConfig, swarm: SwarmInfo): Promise<DeviceReport> {
  const key = await loadOrCreatePeerKey(`${config.home}/device.key`)
  return {
    home: config.home,
    swarmId: swarm.id,
    deviceId: peerIdFromPrivateKey(key).toString(),
    deviceName: config.name,
    capacityBytes: await offeredCapacity(config),
    policy: swarm.policy
  }
}

export async function initDevice (config: PalmConfig, given: Partial<Record<OptionKey, unknown>>): Promise<DeviceReport> {
  await checkCapacity(config)
  const swarm = newSwarmInfo(config.policy, config.stripeSizeBytes)
  const paths = await createHome(config.home, swarm, persistedSettings(config, given))
  await loadOrCreateSwarmKey(paths.swarmKey)
  return await finish(config, swarm)
}

/**
 * `palm join`: redeems the code at the device that made it (which admits this device and hands
 * over the swarm key over the encrypted invite exchange), then creates the home. Nothing is
 * written when the code is refused.
 */
export async function joinDevice (config: PalmConfig, code: string, given: Partial<Record<OptionKey, unknown>>, options: { signal?: AbortSignal } = {}): Promise<DeviceReport> {
  await checkCapacity(config)
  const invite = decodeInviteCode(code)
  if (await isInitialised(config.home)) {
    throw new ExistsError(`${config.home} already holds a PALM device; use it as it is, or choose another --home (the code is still unused)`, { details: { home: config.home } })
  }
  const deviceKey = await generateKeyPair('Ed25519')
  const grant = await redeemInvite(invite, { key: deviceKey, name: config.name }, options)
  const shared = decodeSwarmExtra(grant.extra)
  if (shared == null) throw new InvalidArgumentError('the inviting device sent no swarm description; update PALM on it')
  const swarm: SwarmInfo = { version: 1, id: shared.id, policy: shared.policy, stripeSizeBytes: shared.stripeSizeBytes, createdAt: new Date().toISOString(), ...(grant.inviter != null ? { invitedBy: grant.inviter } : {}) }
  const paths = await createHome(config.home, swarm, persistedSettings(config, given))
  await savePeerKey(homePaths(config.home).deviceKey, deviceKey)
  await saveSwarmKey(paths.swarmKey, grant.swarmKey)
  // A re-keyed swarm: swarm.key stays the salt's source, the network key is the current one.
  if (shared.keys != null) await saveKeyRecord(join(paths.home, KEY_RING_FILE), shared.keys)
  await writeAddrsHint(paths, grant.addrs.length > 0 ? grant.addrs : invite.addrs.map(a => a.toString()))
  if (shared.clock != null) await writeFileAtomic(homePaths(config.home).clockFloor, `${shared.clock}\n`)
  return await finish(config, swarm)
}
