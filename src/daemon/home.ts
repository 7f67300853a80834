/**
 * The PALM home (default ~/.palm): one device's keys, swarm description, journal, fragments, logs,
 * control socket. This module knows the layout and creates it at `palm init` / `palm join`.
 *
 *   config.json     this device's persisted settings (name, capacity, listen, …)
 *   swarm.json      the swarm's shared description (id, default policy, stripe size)
 *   swarm.key       the swarm secret (0600): private network key, and the source of the salt
 *   device.key      this device's libp2p private key (0600): its id, and the key that signs its ops
 *   journal.db      the metadata journal (SQLite, WAL)
 *   fragments/      this device's fragment store
 *   logs/           daemon.log
 *   run/            palm.sock (control API), daemon.pid, mount.json (while mounted)
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ExistsError, IntegrityError, InvalidConfigError, NotFoundError } from '../errors.js'
import { CONFIG_FILE } from '../config/load.js'
import type { PolicyValue } from '../config/parse.js'

export interface HomePaths {
  home: string
  config: string
  swarm: string
  swarmKey: string
  deviceKey: string
  journal: string
  fragments: string
  staging: string
  logs: string
  daemonLog: string
  run: string
  socket: string
  pidFile: string
  mountFile: string
  peersFile: string
  /** Invites this device made (invite-book.ts). */
  invites: string
  /** The inviting device's clock when this one joined (ns, decimal): its ops come after it. */
  clockFloor: string
}

export function homePaths (home: string): HomePaths {
  const run = join(home, 'run')
  return {
    home,
    config: join(home, CONFIG_FILE),
    swarm: join(home, 'swarm.json'),
    swarmKey: join(home, 'swarm.key'),
    deviceKey: join(home, 'device.key'),
    journal: join(home, 'journal.db'),
    fragments: join(home, 'fragments'),
    staging: join(home, 'staging'),
    logs: join(home, 'logs'),
    daemonLog: join(home, 'logs', 'daemon.log'),
    run,
    socket: join(run, 'palm.sock'),
    pidFile: join(run, 'daemon.pid'),
    mountFile: join(run, 'mount.json'),
    peersFile: join(home, 'peers.json'),
    invites: join(home, 'invites.json'),
    clockFloor: join(home, 'clock-floor')
  }
}

/**
 * The clock floor `palm join` recorded (0 when none: a device that made its swarm, or joined
 * before this file existed). A damaged file is an error naming it: starting below the swarm's
 * clock would get this device's first ops refused by the others.
 */
export async function readClockFloor (paths: HomePaths): Promise<bigint> {
  let text: string
  try {
    text = (await readFile(paths.clockFloor, 'utf8')).trim()
  } catch (err: any) {
    if (err?.code === 'ENOENT') return 0n
    throw err
  }
  if (!/^\d{1,30}$/.test(text)) throw new IntegrityError(`${paths.clockFloor} is damaged (${JSON.stringify(text.slice(0, 40))}): write 0 in it if this device has already caught up with its swarm, else join again`)
  return BigInt(text)
}

/** What every device of a swarm agrees on (carried in invite codes). */
export interface SwarmInfo {
  version: 1
  /** Random id naming the swarm in messages and mDNS (not secret). */
  id: string
  /** Default policy for new files. */
  policy: PolicyValue
  /** Stripe size for new files, bytes. */
  stripeSizeBytes: number
  createdAt: string
  /**
   * A joiner's inviting device (it admitted this one). It counts as a member from the first start,
   * before the two have met: until this device holds its ops, compaction of undo records keeps
   * every one (docs/journal.md, "Compaction").
   */
  invitedBy?: string
}

export function newSwarmInfo (policy: PolicyValue, stripeSizeBytes: number): SwarmInfo {
  return { version: 1, id: randomBytes(8).toString('hex'), policy, stripeSizeBytes, createdAt: new Date().toISOString() }
}

export async function isInitialised (home: string): Promise<boolean> {
  try {
    await stat(homePaths(home).swarm)
    return true
  } catch (err: any) {
    if (err.code === 'ENOENT') return false
    throw err
  }
}

/** Writes a file atomically (temp + rename), optionally with a mode. */
export async function writeFileAtomic (path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, data, { mode })
  await chmod(tmp, mode)
  await rename(tmp, path)
}

/** Creates the home's directories and the swarm description; refuses an already initialised home. */
export async function createHome (home: string, swarm: SwarmInfo, settings: Record<string, unknown>): Promise<HomePaths> {
  const p = homePaths(home)
  if (await isInitialised(home)) {
    throw new ExistsError(`${home} already holds a PALM device; use it as it is, or choose another --home`, { details: { home } })
  }
  await mkdir(home, { recursive: true, mode: 0o700 })
  await chmod(home, 0o700)
  for (const dir of [p.fragments, p.staging, p.logs, p.run]) await mkdir(dir, { recursive: true, mode: 0o700 })
  await writeFileAtomic(p.config, JSON.stringify(settings, null, 2) + '\n', 0o600)
  await writeFileAtomic(p.swarm, JSON.stringify(swarm, null, 2) + '\n', 0o644)
  return p
}

/** Reads swarm.json; NotFoundError with the remedy when the home is not set up. */
export async function readSwarmInfo (home: string): Promise<SwarmInfo> {
  const path = homePaths(home).swarm
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    if (err.code === 'ENOENT') {
      throw new NotFoundError(`no PALM device in ${home}: run \`palm init\` (new swarm) or \`palm join CODE\` first`, { details: { home } })
    }
    throw err
  }
  let info: SwarmInfo
  try {
    info = JSON.parse(text)
  } catch (err) {
    throw new InvalidConfigError(`${path} is damaged (not JSON); restore it from another device's swarm.json`, { cause: err })
  }
  if (info?.version !== 1 || info.policy == null || typeof info.stripeSizeBytes !== 'number') {
    throw new InvalidConfigError(`${path} is not a PALM swarm description this version understands`)
  }
  return info
}
