/**
 * The demo's LAN (root only): one network namespace per device, all on one bridge, so the devices
 * find each other with real mDNS and a partition is a link going down.
 *
 *   <prefix>-sw   the "switch": bridge br0 (10.X.0.1/24)
 *   <prefix>-dN   one per device: eth0 (a veth whose peer vN sits on br0), lo, and the 224.0.0.0/4
 *                 route so mDNS multicasts on eth0
 *
 * The host namespace is never touched (no interface, route or sysctl of it changes; mDNS never runs
 * on a host interface). Processes enter a namespace with `nsenter --net=/run/netns/NAME`. Removing
 * the LAN kills what still runs inside its namespaces, then deletes them.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { PalmError } from '../errors.js'

const run = promisify(execFile)
/** Every demo namespace's name starts with this (`ip netns list | grep palmdemo` finds them). */
export const DEMO_NS_PREFIX = 'palmdemo'

export interface DemoLan {
  /** Namespace names start with it. */
  prefix: string
  /** The 10.X.0.0/24 block's X. */
  block: number
  /** Device name → its namespace and address. */
  devices: Record<string, { ns: string, ip: string }>
}

/** Why the demo cannot use namespaces here (it then runs over loopback), or undefined when it can. */
export function netnsUnavailable (): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  for (const tool of ['ip', 'nsenter']) {
    if (!['/usr/sbin', '/sbin', '/usr/bin', '/bin'].some(d => existsSync(`${d}/${tool}`))) return `the \`${tool}\` command is missing`
  }
  return undefined
}

async function ip (...args: string[]): Promise<string> {
  try {
    return (await run('ip', args)).stdout
  } catch (err) {
    throw new PalmError(`ip ${args.join(' ')} failed: ${String((err as { stderr?: string }).stderr ?? err).trim()}`, 'EIO', { cause: err })
  }
}

/** The command line that runs `argv` inside a device's namespace. */
export function inNamespace (ns: string, argv: string[]): [string, string[]] {
  return ['nsenter', [`--net=/run/netns/${ns}`, '--', ...argv]]
}

/** A 10.X.0.0/24 block no host route or address uses (the LAN is isolated, this only avoids confusion). */
async function pickBlock (): Promise<number> {
  const used = (await ip('route')) + (await ip('-4', 'addr'))
  for (let x = 180; x < 213; x++) if (!used.includes(`10.${x}.`)) return x
  throw new PalmError('no free 10.x.0.0/16 block for the demo LAN; free one of 10.180-212.x or run the demo as a user (loopback)', 'EBUSY')
}

/** Builds the LAN for `names`. `made` is called with each namespace right after it exists (for cleanup). */
export async function createDemoLan (names: string[], made: (lan: DemoLan) => Promise<void>): Promise<DemoLan> {
  const prefix = `${DEMO_NS_PREFIX}-${randomBytes(3).toString('hex')}`
  const block = await pickBlock()
  const lan: DemoLan = { prefix, block, devices: {} }
  const sw = `${prefix}-sw`
  await ip('netns', 'add', sw)
  await made(lan)
  await ip('-n', sw, 'link', 'set', 'lo', 'up')
  await ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge')
  await ip('-n', sw, 'addr', 'add', `10.${block}.0.1/24`, 'dev', 'br0')
  await ip('-n', sw, 'link', 'set', 'br0', 'up')
  for (const [i, name] of names.entries()) {
    const ns = `${prefix}-${name}`
    const addr = `10.${block}.0.${10 + i}`
    await ip('netns', 'add', ns)
    lan.devices[name] = { ns, ip: addr }
    await made(lan)
    await ip('-n', ns, 'link', 'set', 'lo', 'up')
    await ip('-n', sw, 'link', 'add', `v${i + 1}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
    await ip('-n', sw, 'link', 'set', `v${i + 1}`, 'master', 'br0', 'up')
    await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
    await linkUp(lan, name)
  }
  return lan
}

async function linkUp (lan: DemoLan, name: string): Promise<void> {
  const { ns } = lan.devices[name]
  await ip('-n', ns, 'link', 'set', 'eth0', 'up')
  await ip('-n', ns, 'route', 'replace', 'default', 'via', `10.${lan.block}.0.1`)
  await ip('-n', ns, 'route', 'replace', '224.0.0.0/4', 'dev', 'eth0')
}

/** Cuts a device off the LAN (`up` false) or puts it back: its processes keep running. */
export async function setDemoLink (lan: DemoLan, name: string, up: boolean): Promise<void> {
  if (up) await linkUp(lan, name)
  else await ip('-n', lan.devices[name].ns, 'link', 'set', 'eth0', 'down')
}

/** The namespaces of this LAN that exist now. */
export async function demoNamespaces (prefix: string): Promise<string[]> {
  const list = await ip('netns', 'list').catch(() => '')
  return list.split('\n').map(l => l.split(' ')[0]).filter(n => n.startsWith(`${prefix}-`))
}

/** Kills every process left in the LAN's namespaces and deletes them; returns the namespaces removed. */
export async function removeDemoLan (prefix: string): Promise<string[]> {
  const gone: string[] = []
  for (const ns of await demoNamespaces(prefix)) {
    const pids = (await ip('netns', 'pids', ns).catch(() => '')).split(/\s+/).filter(Boolean).map(Number)
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
    await ip('netns', 'del', ns)
    gone.push(ns)
  }
  return gone
}
