/**
 * Helpers of the pool LAN tests: a swarm of real devices on the namespace LAN (one `palm mount`,
 * the others `palm serve`), files written and checked through the mount by SHA-256, the daemon's
 * log kept in a file, and cache dropping (the kernel's page cache; PALM's by restarting the mount).
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { PALM_BIN, forceUnmount, palm, testEnv } from '../helpers/palm.js'
import { onCleanup, type Cleanup } from '../helpers/tmp.js'
import { startDevice, type Lan } from './harness.js'
import { joinHomes, startPalm, statusOf, waitAllOnline, waitPeerState, type PalmDevice } from './palm-devices.js'
import type { StatusReport } from '../../src/daemon/control-api.js'

/** A device that serves the mount, with its log file. */
export interface MountDevice extends PalmDevice {
  mountpoint: string
  logFile: string
}

export interface Swarm {
  root: string
  env: Record<string, string>
  /** Homes by device name. */
  homes: Map<string, string>
  mount: MountDevice
  servers: Map<string, PalmDevice>
  /** A running device by name (the mount included). */
  dev: (name: string) => PalmDevice
  /** Starts `palm serve` for `name` again (after a kill) and waits until the mount sees it. */
  restartServer: (name: string) => Promise<PalmDevice>
  /** Restarts the mount daemon (drops PALM's stripe cache) and waits until it sees the running servers. */
  restartMount: () => Promise<MountDevice>
}

/** Starts `palm mount MOUNTPOINT --foreground` in the namespace of `name`; its stderr goes to `logFile`. */
export async function startMount (t: Cleanup, lan: Lan, name: string, home: string, env: Record<string, string>, mountpoint: string, logFile: string): Promise<MountDevice> {
  await mkdir(mountpoint, { recursive: true })
  // Runs after the process is stopped (cleanups run last-first): a killed daemon leaves a stale mount.
  onCleanup(t, async () => { await forceUnmount(mountpoint) })
  const proc = await startDevice(t, lan.device(name), [process.execPath, PALM_BIN, 'mount', mountpoint, '--home', home, '--foreground'], {
    env, ready: l => l.startsWith('READY'), readyTimeoutMs: 120_000, logFile
  })
  const id = /device (\S+)/.exec(proc.lines.find(l => l.startsWith('READY')) ?? '')?.[1] ?? ''
  return { name, home, id, proc, mountpoint, logFile }
}

export interface SwarmOptions {
  /** Device names: the first mounts, the others serve. */
  names: string[]
  env: Record<string, string>
  /** `palm init` flags of the first device (policy…) and its environment (PALM_STRIPE_SIZE…). */
  initArgs?: string[]
  initEnv?: Record<string, string>
  /** `palm join` flags of every other device (capacity…). */
  joinArgs?: string[]
  onlineTimeoutMs?: number
}

/** Homes, then the servers and the mount together; resolves once every device sees every other online. */
export async function startSwarm (t: Cleanup, lan: Lan, root: string, opts: SwarmOptions): Promise<Swarm> {
  const [first, ...others] = opts.names
  const homes = new Map<string, string>()
  homes.set(first, join(root, first))
  const init = await palm(['init', '--home', join(root, first), '--name', first, ...(opts.initArgs ?? [])], { env: testEnv(opts.initEnv) })
  if (init.code !== 0) throw new Error(`palm init failed: ${init.stderr}`)
  for (const [name, home] of await joinHomes(t, lan, { name: first, home: homes.get(first) ?? '' }, root, others, opts.env, opts.joinArgs ?? [])) homes.set(name, home)
  const servers = new Map<string, PalmDevice>()
  const mountEnv = { ...opts.env, DEBUG: 'palm:place*,palm:repair*,palm:fuse:error' }
  const logFile = join(process.env.PALM_LAN_LOG_DIR ?? root, `${first}-mount.log`)
  // All at once: each device's start waits (swarmWaitMs at most) for the devices it knew, which
  // are the others starting here; then every device must see every other online.
  const [started] = await Promise.all([
    startMount(t, lan, first, homes.get(first) ?? '', mountEnv, join(root, 'mnt'), logFile),
    ...others.map(async n => { servers.set(n, await startPalm(t, lan, n, homes.get(n) ?? '', opts.env)) })
  ])
  let mount = started as MountDevice
  await waitAllOnline([mount, ...others.map(n => servers.get(n) as PalmDevice)], opts.onlineTimeoutMs ?? 45_000)
  const swarm: Swarm = {
    root,
    env: opts.env,
    homes,
    get mount () { return mount },
    servers,
    dev: (name) => {
      const d = name === first ? mount : servers.get(name)
      if (d == null) throw new Error(`${name} is not running`)
      return d
    },
    restartServer: async (name) => {
      const d = await startPalm(t, lan, name, homes.get(name) ?? '', opts.env)
      servers.set(name, d)
      await waitAllOnline([mount], 30_000, [d])
      return d
    },
    restartMount: async () => {
      await mount.proc.kill('SIGTERM')
      mount = await startMount(t, lan, first, homes.get(first) ?? '', mountEnv, mount.mountpoint, logFile)
      const running = [...servers.values()].filter(s => s.proc.child.exitCode == null && s.proc.child.signalCode == null)
      await waitAllOnline([mount], 30_000, running)
      return mount
    }
  }
  return swarm
}

/** Drops the kernel's page, dentry and inode caches. */
export function dropPageCache (): void {
  spawnSync('sync')
  spawnSync('sh', ['-c', 'echo 3 > /proc/sys/vm/drop_caches'])
}

/** Writes `size` random bytes to `path` in 1 MiB writes; returns their SHA-256 (hex). */
export async function writeRandomFile (path: string, size: number): Promise<string> {
  const hash = createHash('sha256')
  const out = createWriteStream(path)
  for (let left = size; left > 0;) {
    const chunk = randomBytes(Math.min(left, 1024 * 1024))
    hash.update(chunk)
    if (!out.write(chunk)) await new Promise<void>(resolve => { out.once('drain', () => { resolve() }) })
    left -= chunk.length
  }
  await new Promise<void>((resolve, reject) => { out.end(); out.once('close', resolve); out.once('error', reject) })
  return hash.digest('hex')
}

/** SHA-256 (hex) of a file's bytes, streamed. */
export async function sha256Of (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Writes `count` small random files (1 B … 4 KiB) under `dir` in subfolders of 100, `concurrency` at a time. */
export async function writeSmallTree (dir: string, count: number, concurrency = 8): Promise<Map<string, string>> {
  const sums = new Map<string, string>()
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++
      const sub = join(dir, `d${Math.floor(i / 100)}`)
      await mkdir(sub, { recursive: true })
      const bytes = randomBytes(1 + ((i * 7919) % 4096))
      const path = join(sub, `f${i}`)
      await writeFile(path, bytes)
      sums.set(path, createHash('sha256').update(bytes).digest('hex'))
    }
  }))
  return sums
}

/** Reads every file of `sums` and returns those whose bytes differ (path → reason). */
export async function verifyFiles (sums: Map<string, string>, concurrency = 8): Promise<string[]> {
  const bad: string[] = []
  const entries = [...sums]
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < entries.length) {
      const [path, sum] = entries[next++]
      try {
        const got = await sha256Of(path)
        if (got !== sum) bad.push(`${path}: different bytes`)
      } catch (err) {
        bad.push(`${path}: ${(err as Error).message}`)
      }
    }
  }))
  return bad
}

/** Polls the status of `dev` (what `palm status --json` prints) until `ok` holds; resolves with that status. */
export async function statusWhen (dev: PalmDevice, ok: (s: StatusReport) => boolean, timeoutMs: number): Promise<StatusReport> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const s = await statusOf(dev)
    if (ok(s)) return s
    if (Date.now() > until) throw new Error(`${dev.name}: status did not reach the expected state within ${timeoutMs} ms; last: ${JSON.stringify(s.protectionDetail)}`)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

/** The mount daemon's log so far. */
export async function mountLog (m: MountDevice): Promise<string> {
  return await readFile(m.logFile, 'utf8').catch(() => '')
}

/** Kills `names` with SIGKILL and waits until the mount sees them offline. */
export async function kill9 (swarm: Swarm, names: string[]): Promise<void> {
  const victims = names.map(n => swarm.dev(n))
  await Promise.all(victims.map(async v => { await v.proc.kill('SIGKILL') }))
  await Promise.all(victims.map(async v => await waitPeerState(swarm.mount, v, false, 20_000)))
}

/**
 * Every stripe has n fragments on n distinct online devices (the survey's matching), none at risk
 * and nothing left to place; `online` devices, this one included.
 */
export const fullyProtected = (stripes: number, online: number) => (s: StatusReport): boolean =>
  s.protectionDetail.stripesTotal === stripes && s.protectionDetail.stripesBelowN === 0 && s.protectionDetail.pendingSpread === 0 &&
  1 + s.peers.filter(p => p.online).length === online && s.repair != null && s.repair.bytesToMove === 0 &&
  s.repair.stripesBelowN.atK + s.repair.stripesBelowN.atK1 + s.repair.stripesBelowN.more === 0

/** `palm fsck --json` of a device, parsed. */
export async function fsckOf (dev: PalmDevice): Promise<any> {
  const r = await palm(['fsck', '--home', dev.home, '--json'], { timeoutMs: 300_000 })
  return JSON.parse(r.stdout)
}

/** Every large fragment file of a device's store (fragments under 1 MiB are in packs). */
export async function fragmentFiles (home: string): Promise<string[]> {
  const base = join(home, 'fragments', 'fragments')
  const out: string[] = []
  for (const shard of await readdir(base).catch(() => [])) {
    for (const f of await readdir(join(base, shard))) out.push(join(base, shard, f))
  }
  return out
}

/** Flips the last byte of each file. */
export async function corrupt (files: string[]): Promise<void> {
  for (const f of files) {
    const fh = await open(f, 'r+')
    try {
      const { size } = await fh.stat()
      const b = Buffer.alloc(1)
      await fh.read(b, 0, 1, size - 1)
      b[0] ^= 0xff
      await fh.write(b, 0, 1, size - 1)
    } finally {
      await fh.close()
    }
  }
}
