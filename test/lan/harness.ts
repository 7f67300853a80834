/**
 * A small LAN on this machine, built from network namespaces (root only):
 *
 *   <prefix>-sw   the "switch/router" namespace: bridge br1 (10.X.1.1/24) and, when asked, a second
 *                 routed bridge br2 (10.X.2.1/24); IPv4 forwarding on inside it only
 *   <prefix>-<d>  one namespace per device: eth0 (a veth whose peer sits on a bridge), lo, a default
 *                 route via its bridge, and the 224.0.0.0/4 route so mDNS multicasts on eth0
 *
 * The host namespace is never touched: no interface, route or sysctl of it changes, so test
 * traffic stays inside these namespaces. Devices run as child processes entered with
 * `nsenter --net=/run/netns/<ns>` (exec, so the child's PID is the device's). Every piece registers
 * its cleanup when it is created (LIFO): processes are killed before namespaces are deleted, on
 * failures too. Namespaces left by a crashed earlier run (their creator PID is gone) are removed
 * at start. The device command is a parameter, so the same harness can run `palm serve`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream, existsSync } from 'node:fs'
import { promisify } from 'node:util'
import { onCleanup, type Cleanup } from '../helpers/tmp.js'

const run = promisify(execFile)
const PREFIX = 'palmlan'

/** Why this machine cannot run the LAN tests, or undefined when it can. */
export function lanSkipReason (): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  for (const tool of ['/usr/sbin/ip', '/usr/bin/nsenter']) {
    if (!existsSync(tool) && !existsSync(tool.replace('/usr', ''))) return `${tool} is missing`
  }
  return undefined
}

async function ip (...args: string[]): Promise<string> {
  try {
    return (await run('ip', args)).stdout
  } catch (err) {
    throw new Error(`ip ${args.join(' ')} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`)
  }
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

/** Kills every process in a namespace and deletes it. */
async function deleteNamespace (ns: string): Promise<void> {
  const pids = (await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }))).stdout.split(/\s+/).filter(Boolean).map(Number)
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
  await ip('netns', 'del', ns).catch(() => {})
}

/** Removes namespaces of earlier runs whose creating process no longer exists. */
async function removeLeftovers (): Promise<void> {
  const list = (await ip('netns', 'list')).split('\n').map(l => l.split(' ')[0]).filter(n => n.startsWith(`${PREFIX}-`))
  for (const ns of list) {
    const pid = Number(ns.split('-')[1])
    if (!Number.isInteger(pid) || !alive(pid)) await deleteNamespace(ns)
  }
}

/** A 10.X.0.0/16 block that no host route or address uses. */
async function pickBlock (): Promise<number> {
  const used = (await ip('route')) + (await ip('-4', 'addr'))
  for (let x = 213; x < 250; x++) {
    if (!used.includes(`10.${x}.`)) return x
  }
  throw new Error('no free 10.x.0.0/16 block for the test LAN')
}

export interface LanDevice {
  name: string
  /** Namespace name; enter with `nsenter --net=/run/netns/<ns>`. */
  ns: string
  subnet: 1 | 2
  ip: string
}

export interface Lan {
  prefix: string
  devices: Map<string, LanDevice>
  device: (name: string) => LanDevice
}

export interface LanOptions {
  /** Devices on subnet 1 (one bridge, mDNS reaches them all). */
  devices: string[]
  /** Devices on subnet 2: a second bridge, routed to subnet 1, no multicast between the two. */
  routed?: string[]
}

/** Builds the LAN; everything is removed after the test (or suite) `t`. */
export async function createLan (t: Cleanup, opts: LanOptions): Promise<Lan> {
  await removeLeftovers()
  const prefix = `${PREFIX}-${process.pid}-${randomBytes(2).toString('hex')}`
  const block = await pickBlock()
  const sw = `${prefix}-sw`
  const addNs = async (ns: string): Promise<void> => {
    await ip('netns', 'add', ns)
    onCleanup(t, async () => { await deleteNamespace(ns) })
    await ip('-n', ns, 'link', 'set', 'lo', 'up')
  }
  await addNs(sw)
  await run('nsenter', [`--net=/run/netns/${sw}`, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'])
  const subnets: Array<1 | 2> = (opts.routed?.length ?? 0) > 0 ? [1, 2] : [1]
  for (const s of subnets) {
    await ip('-n', sw, 'link', 'add', `br${s}`, 'type', 'bridge')
    await ip('-n', sw, 'addr', 'add', `10.${block}.${s}.1/24`, 'dev', `br${s}`)
    await ip('-n', sw, 'link', 'set', `br${s}`, 'up')
  }
  const devices = new Map<string, LanDevice>()
  const all: Array<[string, 1 | 2]> = [...opts.devices.map(n => [n, 1] as [string, 1]), ...(opts.routed ?? []).map(n => [n, 2] as [string, 2])]
  let host = 10
  for (const [name, subnet] of all) {
    if (!/^[a-z0-9]{1,12}$/.test(name)) throw new Error(`device name "${name}" must be 1-12 lowercase letters or digits`)
    const ns = `${prefix}-${name}`
    const addr = `10.${block}.${subnet}.${host++}`
    await addNs(ns)
    const veth = `v${host}`
    await ip('-n', sw, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
    await ip('-n', sw, 'link', 'set', veth, 'master', `br${subnet}`, 'up')
    await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
    await ip('-n', ns, 'link', 'set', 'eth0', 'up')
    await ip('-n', ns, 'route', 'add', 'default', 'via', `10.${block}.${subnet}.1`)
    await ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
    devices.set(name, { name, ns, subnet, ip: addr })
  }
  return {
    prefix,
    devices,
    device: (name) => {
      const d = devices.get(name)
      if (d == null) throw new Error(`no device "${name}" on this LAN`)
      return d
    }
  }
}

export interface DeviceProcessOptions {
  env?: NodeJS.ProcessEnv
  /** A stdout line that means the device is ready (default: contains READY). */
  ready?: (line: string) => boolean
  readyTimeoutMs?: number
  /** Also append the device's stderr to this file (for reading logs after a failure). */
  logFile?: string
}

export interface DeviceProcess {
  name: string
  pid: number
  child: ChildProcess
  /** Every stdout line so far. */
  lines: string[]
  /** The last 200 stderr lines (for failure messages). */
  stderr: string[]
  /** Resolves with the first stdout line (past or future) that matches. */
  waitForLine: (match: (line: string) => boolean, timeoutMs: number) => Promise<string>
  /** Writes one line to the device's stdin. */
  write: (line: string) => void
  /** Sends a signal and resolves once the process is gone (its PID no longer exists). */
  kill: (signal?: NodeJS.Signals) => Promise<void>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Stops of the device processes still running, by the test (or suite) that started them. */
const stoppers = new WeakMap<Cleanup, Set<() => Promise<void>>>()

/**
 * Starts `command` inside the device's namespace. Cleanup: SIGTERM, then SIGKILL after 5 s,
 * waiting until the PID is gone. The first device cleanup of a test sends SIGTERM to every device
 * process that test still runs, so that they stop together rather than one after another.
 */
export async function startDevice (t: Cleanup, device: LanDevice, command: string[], opts: DeviceProcessOptions = {}): Promise<DeviceProcess> {
  const child = spawn('nsenter', [`--net=/run/netns/${device.ns}`, '--', ...command], { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => { resolve({ code, signal }) })
  })
  const lines: string[] = []
  const stderr: string[] = []
  const waiters = new Set<{ match: (l: string) => boolean, resolve: (l: string) => void }>()
  let buf = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      lines.push(line)
      for (const w of waiters) if (w.match(line)) { waiters.delete(w); w.resolve(line) }
    }
  })
  const log = opts.logFile != null ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined
  if (log != null) onCleanup(t, async () => { await new Promise(resolve => log.end(resolve)) })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    log?.write(chunk)
    stderr.push(...chunk.split('\n').filter(Boolean))
    if (stderr.length > 200) stderr.splice(0, stderr.length - 200)
  })
  child.stdin.on('error', () => {})
  const kill = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (child.exitCode == null && child.signalCode == null) child.kill(signal)
    await exited
    const pid = child.pid ?? -1
    while (alive(pid)) await new Promise(resolve => setTimeout(resolve, 20))
  }
  const proc: DeviceProcess = {
    name: device.name,
    pid: child.pid ?? -1,
    child,
    lines,
    stderr,
    exited,
    write: (line) => { child.stdin.write(line + '\n') },
    kill,
    waitForLine: async (match, timeoutMs) => {
      const past = lines.find(match)
      if (past != null) return past
      return await new Promise<string>((resolve, reject) => {
        const w = { match, resolve: (l: string) => { clearTimeout(timer); resolve(l) } }
        const timer = setTimeout(() => {
          waiters.delete(w)
          reject(new Error(`${device.name}: no matching line within ${timeoutMs} ms; stderr tail:\n${stderr.slice(-20).join('\n')}`))
        }, timeoutMs)
        waiters.add(w)
        void exited.then(({ code, signal }) => {
          if (!waiters.has(w)) return
          waiters.delete(w)
          clearTimeout(timer)
          reject(new Error(`${device.name} exited (code ${code}, signal ${signal}) before the expected line; stderr tail:\n${stderr.slice(-20).join('\n')}`))
        })
      })
    }
  }
  let stopping: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode != null || child.signalCode != null) return
      const timer = setTimeout(() => { child.kill('SIGKILL') }, 5_000)
      await kill('SIGTERM')
      clearTimeout(timer)
    })()
    await stopping
  }
  let running = stoppers.get(t)
  if (running == null) { running = new Set(); stoppers.set(t, running) }
  const all = running
  all.add(stop)
  void exited.then(() => { all.delete(stop) })
  onCleanup(t, async () => {
    for (const other of all) if (other !== stop) void other().catch(() => {})
    await stop()
  })
  await proc.waitForLine(opts.ready ?? ((l) => l.includes('READY')), opts.readyTimeoutMs ?? 20_000)
  return proc
}

/**
 * Cuts (`up` false) or restores a device's link to the LAN: a partition. Bringing eth0 back up
 * restores its routes (the default route and the multicast route that mDNS needs).
 */
export async function setLink (lan: Lan, name: string, up: boolean): Promise<void> {
  const d = lan.device(name)
  await ip('-n', d.ns, 'link', 'set', 'eth0', up ? 'up' : 'down')
  if (!up) return
  const gw = d.ip.replace(/\.\d+$/, '.1')
  await ip('-n', d.ns, 'route', 'replace', 'default', 'via', gw)
  await ip('-n', d.ns, 'route', 'replace', '224.0.0.0/4', 'dev', 'eth0')
}
