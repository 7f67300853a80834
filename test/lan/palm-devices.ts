/**
 * Real PALM devices on the namespace LAN: homes made with `palm init` / `palm join`, daemons run as
 * `palm serve` (or `palm mount`) inside a device's namespace, and queried from the test over their
 * control socket (a file in the home, so it is reachable from any namespace) with the client the
 * `palm` CLI uses: `palm status --json` and `palm peers --json` print exactly what it returns
 * (test/integration/cli.test.ts checks those commands). A CLI process per poll costs a second of CPU
 * on a loaded 2-core machine, with six or nine devices polled every few hundred ms.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { copyFile, mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { PeerStatus, StatusReport } from '../../src/daemon/control-api.js'
import { controlClient } from '../../src/daemon/control-client.js'
import { PALM_BIN, palm, testEnv } from '../helpers/palm.js'
import type { Cleanup } from '../helpers/tmp.js'
import { startDevice, type DeviceProcess, type Lan } from './harness.js'

/** Environment of a device on the test LAN: mDNS with the test's own tag, fast gossip. */
export function lanEnv (tag: string, extra: Record<string, string> = {}): Record<string, string> {
  return testEnv({
    PALM_MDNS: 'true',
    PALM_MDNS_TAG: tag,
    PALM_DHT: 'true',
    PALM_LISTEN: '/ip4/0.0.0.0/tcp/0',
    PALM_GOSSIP_INTERVAL: '500ms',
    PALM_OFFLINE_AFTER: '2500ms',
    // Repair off unless a test turns it on (test/lan/repair.test.ts, and pool.test.ts's full pool
    // for its rebalance when a device joins): the other LAN tests check
    // placement and reads with devices down, which a repair at k would change under them.
    PALM_REPAIR_INTERVAL: '0',
    ...extra
  })
}

async function cli (args: string[], env?: Record<string, string>): Promise<string> {
  const r = await palm(args, { env })
  if (r.code !== 0) throw new Error(`palm ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
  return r.stdout
}

/** A new swarm's first device home (`palm init`). */
export async function initHome (root: string, name: string, args: string[] = []): Promise<string> {
  const home = join(root, name)
  await cli(['init', '--home', home, '--name', name, ...args])
  return home
}

/**
 * A device home that joins with `code` (`palm join`, run in the device's namespace: it redeems the
 * code at the inviting device, which must be running and reachable on the LAN).
 */
export async function joinHome (lan: Lan, root: string, name: string, code: string, args: string[] = []): Promise<string> {
  const home = join(root, name)
  const child = spawn('nsenter', [`--net=/run/netns/${lan.device(name).ns}`, '--', process.execPath, PALM_BIN, 'join', '-', '--home', home, '--name', name, ...args], { env: testEnv(), stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  child.stdin.end(code + '\n')
  const [status] = await once(child, 'close') as [number | null]
  if (status !== 0) throw new Error(`palm join for ${name} failed (${String(status)}): ${out}`)
  return home
}

/** A new single-use invite code of the device at `home` (with its addresses when its daemon runs). */
export async function inviteCode (home: string): Promise<string> {
  return (await cli(['invite', '--home', home])).trim()
}

/**
 * Homes for `names` that join the swarm of `inviter` (not running yet): its `palm serve` runs in
 * its namespace while each redeems a code of its own (all at once: the inviter's daemon serialises
 * its invite book), then stops. The addresses the codes carried
 * (bootstrap.json) are dropped: that serve's port is gone, and these devices find each other by
 * mDNS (a stale address would hold the inviter's dial backoff up to a minute).
 */
export async function joinHomes (t: Cleanup, lan: Lan, inviter: { name: string, home: string }, root: string, names: string[], env: Record<string, string>, args: string[] = []): Promise<Map<string, string>> {
  const d = await startPalm(t, lan, inviter.name, inviter.home, env)
  try {
    const joined = await Promise.all(names.map(async name => {
      const home = await joinHome(lan, root, name, await inviteCode(inviter.home), args)
      await rm(join(home, 'bootstrap.json'), { force: true })
      return [name, home] as const
    }))
    return new Map(joined)
  } finally {
    await d.proc.kill('SIGTERM')
  }
}

/** A home for the test device program (test/lan/device.js) that shares `swarmHome`'s key. */
export async function probeHome (root: string, name: string, swarmHome: string): Promise<string> {
  const home = join(root, name)
  await mkdir(home, { recursive: true })
  await copyFile(join(swarmHome, 'swarm.key'), join(home, 'swarm.key'))
  return home
}

export interface PalmDevice {
  name: string
  home: string
  /** Peer id, from the READY line. */
  id: string
  proc: DeviceProcess
}

/** Runs `palm serve` (no mountpoint) or `palm mount MOUNTPOINT --foreground` in the device's namespace. */
export async function startPalm (t: Cleanup, lan: Lan, name: string, home: string, env: Record<string, string>, mountpoint?: string): Promise<PalmDevice> {
  const args = mountpoint == null ? ['serve', '--home', home] : ['mount', mountpoint, '--home', home, '--foreground']
  const proc = await startDevice(t, lan.device(name), [process.execPath, PALM_BIN, ...args], {
    env,
    ready: l => l.startsWith('READY'),
    readyTimeoutMs: 120_000,
    logFile: process.env.PALM_LAN_LOG_DIR != null ? join(process.env.PALM_LAN_LOG_DIR, `${name}.log`) : undefined
  })
  const id = /device (\S+)/.exec(proc.lines.find(l => l.startsWith('READY')) ?? '')?.[1]
  if (id == null) throw new Error(`${name}: no device id in its READY line`)
  return { name, home, id, proc }
}

/** The running daemon of `dev`, over its control socket (what `palm status` and `palm peers` ask). */
function control (dev: PalmDevice): ReturnType<typeof controlClient> {
  return controlClient({ socketPath: join(dev.home, 'run', 'palm.sock') })
}

/** What `palm status --json` prints for `dev` (its running daemon's status). */
export async function statusOf (dev: PalmDevice): Promise<StatusReport> {
  return await control(dev).status()
}

/** What `palm peers --json` prints for `dev`. */
export async function peersOf (dev: PalmDevice): Promise<PeerStatus[]> {
  return await control(dev).peers()
}

/** Polls until each device lists every other device in `devs` as online; resolves with the time it took, ms. */
export async function waitAllOnline (devs: PalmDevice[], timeoutMs: number, expect: PalmDevice[] = devs): Promise<number> {
  const t0 = performance.now()
  for (;;) {
    const views = await Promise.all(devs.map(async d => ({ d, online: new Set((await peersOf(d)).filter(p => p.online).map(p => p.id)) })))
    const missing = views.flatMap(({ d, online }) => expect.filter(e => e.id !== d.id && !online.has(e.id)).map(e => `${d.name}→${e.name}`))
    if (missing.length === 0) return performance.now() - t0
    if (performance.now() - t0 > timeoutMs) throw new Error(`not all devices online after ${timeoutMs} ms; missing ${missing.join(', ')}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** Polls until `watcher` lists `target` with `online` as given; resolves with the time it took, ms. */
export async function waitPeerState (watcher: PalmDevice, target: PalmDevice, online: boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now()
  for (;;) {
    const p = (await peersOf(watcher)).find(x => x.id === target.id)
    if ((p?.online ?? false) === online) return performance.now() - t0
    if (performance.now() - t0 > timeoutMs) throw new Error(`${watcher.name} did not see ${target.name} ${online ? 'online' : 'offline'} within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
