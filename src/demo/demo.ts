/**
 * `palm demo`: a swarm of N devices on this one machine, to watch and break. Each device is a real
 * PALM daemon (a real home, real libp2p); the first mounts the folder and serves the status page,
 * the others only lend disk (`palm serve`). As root each device gets its own network namespace on
 * one bridge (netns.ts: a real LAN, found by mDNS; the page reaches the host through page-relay.ts);
 * otherwise all talk over loopback TCP. Breaking a device is done to its process: kill (SIGKILL),
 * hang (SIGSTOP), revive; to its network: partition (its link goes down; namespaces only), heal; or
 * to its disk: corrupt (one byte of a stored fragment). `stop` removes everything it made: the
 * mount, the processes, the namespaces, the files.
 *
 * Everything runs through the `palm` command itself (child processes), so the demo shows exactly
 * what a user's devices do. The state lives in `<dir>/demo.json`.
 */
import { spawn, execFile } from 'node:child_process'
import { open, readdir, readFile, rm, mkdir, writeFile, stat } from 'node:fs/promises'
import { existsSync, readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BusyError, InvalidArgumentError, NotFoundError, PalmError } from '../errors.js'
import { controlClient, daemonEnv, daemonRunning, homePaths } from '../daemon/index.js'
import { createDemoLan, inNamespace, netnsUnavailable, removeDemoLan, setDemoLink, type DemoLan } from './netns.js'
import { startPageRelay } from './relay.js'

const CLI_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url))
export const DEMO_STATE = 'demo.json'
export const DEMO_MIN_DEVICES = 3
export const DEMO_MAX_DEVICES = 12

export type DeviceState = 'running' | 'killed' | 'hung'

export interface DemoDevice {
  name: string
  home: string
  role: 'mount' | 'serve'
  pid: number
  state: DeviceState
  /** Cut off the LAN by `palm demo partition` (namespace demo only), until `heal` or `revive`. */
  partitioned?: boolean
}

export interface DemoState {
  version: 1
  dir: string
  folder: string
  page: string | null
  policy: { k: number, n: number }
  /** netns: one network namespace per device (root); loopback: all on 127.0.0.1. */
  mode: 'loopback' | 'netns'
  /** The namespace LAN (mode netns). */
  lan?: DemoLan
  /** The process that brings the page from d1's namespace to the host (mode netns). */
  relayPid?: number
  devices: DemoDevice[]
}

/** Where a demo lives: --dir, else PALM_DEMO_DIR, else ~/.palm-demo. */
export function demoDir (given?: string): string {
  return given ?? process.env.PALM_DEMO_DIR ?? join(homedir(), '.palm-demo')
}

/**
 * The environment of the demo's devices, quick to notice a device gone: on loopback without mDNS
 * (the invite's addresses connect them); in namespaces with mDNS on each device's own LAN address.
 */
function deviceEnv (mode: DemoState['mode'], extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.DEBUG
  // The devices' own settings are the demo's, except the read cache (a test bounds it to see real
  // reads) and repair's interval (a test turns repair off to see a stripe stay at k).
  for (const k of Object.keys(env)) if (k.startsWith('PALM_') && k !== 'PALM_CACHE_SIZE' && k !== 'PALM_REPAIR_INTERVAL') delete env[k]
  return {
    ...daemonEnv(env),
    PALM_MDNS: mode === 'netns' ? 'true' : 'false',
    PALM_MDNS_TAG: 'palm-demo',
    PALM_DHT: 'false',
    PALM_LISTEN: mode === 'netns' ? '/ip4/0.0.0.0/tcp/0' : '/ip4/127.0.0.1/tcp/0',
    PALM_GOSSIP_INTERVAL: '1s',
    PALM_OFFLINE_AFTER: '4s',
    PALM_READ_FAIL: '5s',
    ...extra
  }
}

/** Runs `palm ARGS` (inside namespace `ns` when given) and returns stdout; a failure throws with palm's own one-line error. */
async function palm (args: string[], env: NodeJS.ProcessEnv, ns?: string): Promise<string> {
  const argv = [process.execPath, CLI_MAIN, ...args]
  const [file, rest] = ns != null ? inNamespace(ns, argv) : [argv[0], argv.slice(1)]
  return await new Promise((resolve, reject) => {
    execFile(file, rest, { env, maxBuffer: 16 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err != null) reject(new PalmError(`palm ${args[0]} failed: ${(stderr.trim() || err.message).replace(/^palm: /, '')}`, 'EIO', { cause: err }))
      else resolve(stdout)
    })
  })
}

/** The process exists and is not a zombie (/proc is not the mount: a sync read is safe). */
function alive (pid: number): boolean {
  if (pid <= 0) return false
  try { process.kill(pid, 0) } catch { return false }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') !== true
  } catch {
    return false
  }
}

async function waitGone (pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (!alive(pid)) return true
    await new Promise(r => setTimeout(r, 100))
  }
  return !alive(pid)
}

async function waitFor (what: string, test: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!await test().catch(() => false)) {
    if (Date.now() > until) throw new PalmError(`${what} did not happen within ${Math.round(timeoutMs / 1000)} s; see the device logs under the demo folder`, 'ETIMEDOUT')
    await new Promise(r => setTimeout(r, 200))
  }
}

export async function readDemo (dir: string): Promise<DemoState> {
  let text: string
  try {
    text = await readFile(join(dir, DEMO_STATE), 'utf8')
  } catch (err: any) {
    if (err.code === 'ENOENT') throw new NotFoundError(`no demo runs in ${dir}: start one with \`palm demo start\``, { cause: err })
    throw err
  }
  return JSON.parse(text) as DemoState
}

async function saveDemo (s: DemoState): Promise<void> {
  await writeFile(join(s.dir, DEMO_STATE), JSON.stringify(s, null, 2) + '\n')
}

/** Starts `palm serve` for a device (in its namespace), detached, logging to its home; resolves once it answers. */
async function startServe (s: DemoState, home: string, name: string): Promise<number> {
  const paths = homePaths(home)
  await mkdir(paths.logs, { recursive: true })
  const log = await open(paths.daemonLog, 'a')
  const argv = [process.execPath, CLI_MAIN, 'serve', '--home', home]
  const ns = s.lan?.devices[name]?.ns
  // nsenter execs node, so the PID is the device's.
  const [file, rest] = ns != null ? inNamespace(ns, argv) : [argv[0], argv.slice(1)]
  const child = spawn(file, rest, {
    detached: true,
    stdio: ['ignore', log.fd, log.fd],
    env: deviceEnv(s.mode, { PALM_DASHBOARD_PORT: '-1' })
  })
  await log.close()
  child.unref()
  const pid = child.pid ?? 0
  await waitFor(`device ${home} starting`, async () => {
    if (!alive(pid)) throw new PalmError(`device ${home} stopped while starting; see ${paths.daemonLog}`, 'EIO')
    return await daemonRunning(paths.socket)
  }, 60_000)
  return pid
}

/** The policy for N devices: n = N fragments, any N−2 rebuild a stripe (two devices may go). */
export function demoPolicy (devices: number): { k: number, n: number } {
  return { k: Math.max(1, devices - 2), n: devices }
}

export interface StartOptions {
  dir: string
  devices: number
  /** Use loopback even where namespaces are possible (default: namespaces as root). */
  loopback?: boolean
  /** Progress lines for people. */
  say?: (line: string) => void
}

export async function startDemo (o: StartOptions): Promise<DemoState> {
  if (!Number.isInteger(o.devices) || o.devices < DEMO_MIN_DEVICES || o.devices > DEMO_MAX_DEVICES) {
    throw new InvalidArgumentError(`a demo has ${DEMO_MIN_DEVICES} to ${DEMO_MAX_DEVICES} devices (got ${o.devices})`, { details: { usage: true } })
  }
  if (existsSync(join(o.dir, DEMO_STATE))) {
    throw new BusyError(`a demo already exists in ${o.dir}: \`palm demo status\` shows it, \`palm demo stop\` removes it`)
  }
  const say = o.say ?? ((): void => {})
  const policy = demoPolicy(o.devices)
  const names = Array.from({ length: o.devices }, (_, i) => `d${i + 1}`)
  const folder = join(o.dir, 'folder')
  await mkdir(o.dir, { recursive: true })
  const unavailable = o.loopback === true ? undefined : netnsUnavailable()
  const mode = o.loopback === true || unavailable != null ? 'loopback' : 'netns'
  const state: DemoState = { version: 1, dir: o.dir, folder, page: null, policy, mode, devices: [] }
  await saveDemo(state)
  try {
    const env = deviceEnv(mode)
    let firstEnv = env
    if (unavailable != null) say(`the devices talk over loopback (${unavailable}: no LAN of network namespaces, so no partition)`)
    if (mode === 'netns') {
      say(`building a LAN of ${o.devices} network namespaces (one per device, on one bridge)`)
      state.lan = await createDemoLan(names, async (lan) => { state.lan = lan; await saveDemo(state) })
      const relay = await startPageRelay(state.lan.devices[names[0]].ns, join(o.dir, 'page-relay.log'))
      state.relayPid = relay.pid
      await saveDemo(state)
      firstEnv = deviceEnv(mode, { PALM_DASHBOARD_PORT: String(relay.port) })
    }
    const first = join(o.dir, names[0])
    say(`creating ${names[0]} (a new swarm, policy ${policy.k}-of-${policy.n}) and mounting ${folder}`)
    await palm(['init', '--home', first, '--name', names[0], '--policy', `${policy.k}-of-${policy.n}`, '--capacity', '1G'], env)
    const mounted = await palm(['mount', folder, '--home', first], firstEnv, state.lan?.devices[names[0]].ns)
    const pid = Number(/daemon pid (\d+)/.exec(mounted)?.[1] ?? 0)
    state.devices.push({ name: names[0], home: first, role: 'mount', pid, state: 'running' })
    await saveDemo(state)
    for (const name of names.slice(1)) {
      say(`starting ${name}`)
      const home = join(o.dir, name)
      // One single-use code per device, redeemed at the running first device (from the new device's namespace).
      const code = (await palm(['invite', '--home', first], env)).trim()
      await palm(['join', code, '--home', home, '--name', name, '--capacity', '1G'], env, state.lan?.devices[name].ns)
      state.devices.push({ name, home, role: 'serve', pid: await startServe(state, home, name), state: 'running' })
      await saveDemo(state)
    }
    const api = controlClient({ socketPath: homePaths(first).socket })
    say('waiting until every device is online')
    await waitFor('every device coming online', async () => (await api.peers()).filter(p => p.online).length >= o.devices - 1, 90_000)
    state.page = (await api.status()).daemon.dashboard
    await saveDemo(state)
    say('writing two sample files')
    await writeFile(join(folder, 'welcome.txt'), welcome(state))
    await writeFile(join(folder, 'sample.bin'), randomBytes(12 * 2 ** 20))
    return state
  } catch (err) {
    await stopDemo(o.dir).catch(() => {})
    throw err
  }
}

function welcome (s: DemoState): string {
  return [
    'Welcome to the PALM demo.',
    `Every file here is cut into stripes; each stripe becomes ${s.policy.n} fragments, one per device,`,
    `and any ${s.policy.k} of them rebuild it. So the folder keeps working with ${s.policy.n - s.policy.k} devices gone.`,
    '',
    'Try: palm demo kill d2; palm demo kill d3; cat this file again; palm demo revive d2.',
    'The status page shows which device holds which fragment (Folder, then a file).',
    ''
  ].join('\n')
}

function device (s: DemoState, name: string): DemoDevice {
  const d = s.devices.find(x => x.name === name)
  if (d == null) throw new InvalidArgumentError(`no device "${name}" in this demo; its devices are ${s.devices.map(x => x.name).join(', ')}`, { details: { usage: true } })
  return d
}

/** The live state of each device (a process that died on its own counts as killed). */
export async function demoStatus (dir: string): Promise<DemoState> {
  const s = await readDemo(dir)
  for (const d of s.devices) if (d.state !== 'killed' && !alive(d.pid)) d.state = 'killed'
  return s
}

export type DemoAction = 'kill' | 'revive' | 'hang' | 'partition' | 'heal' | 'corrupt'
export const DEMO_ACTIONS: DemoAction[] = ['kill', 'revive', 'hang', 'partition', 'heal', 'corrupt']

/** Breaks (or mends) one device; returns a sentence saying what was done and what to watch. */
export async function demoAction (dir: string, action: DemoAction, name: string): Promise<string> {
  const s = await demoStatus(dir)
  const d = device(s, name)
  const spare = s.policy.n - s.policy.k
  if (d.role === 'mount' && action !== 'corrupt') {
    throw new InvalidArgumentError(`${d.name} holds the mount and the status page; break another device (${s.devices.filter(x => x.role === 'serve').map(x => x.name).join(', ')})`, { details: { usage: true } })
  }
  let said: string
  switch (action) {
    case 'kill':
      if (d.state === 'killed') return `${d.name} is already killed; \`palm demo revive ${d.name}\` brings it back`
      if (d.state === 'hung') process.kill(d.pid, 'SIGCONT')
      process.kill(d.pid, 'SIGKILL')
      await waitGone(d.pid, 10_000)
      d.state = 'killed'
      said = `killed ${d.name} (SIGKILL). Files still read while at most ${spare} devices are gone; the page marks it offline within a few seconds.`
      break
    case 'hang':
      if (d.state !== 'running') return `${d.name} is ${d.state}; \`palm demo revive ${d.name}\` first`
      process.kill(d.pid, 'SIGSTOP')
      d.state = 'hung'
      said = `hung ${d.name} (SIGSTOP): it holds its connections but answers nothing; reads race past it to other devices.`
      break
    case 'revive':
      if (d.state === 'running' && d.partitioned !== true) return `${d.name} is running`
      if (d.partitioned === true && s.lan != null) await setDemoLink(s.lan, d.name, true)
      d.partitioned = false
      if (d.state === 'hung') process.kill(d.pid, 'SIGCONT')
      else if (d.state === 'killed') d.pid = await startServe(s, d.home, d.name)
      d.state = 'running'
      said = `revived ${d.name}; it is back online within a few seconds.`
      break
    case 'partition':
    case 'heal': {
      if (s.lan == null) {
        throw new PalmError(`${action} needs the network-namespace demo (\`palm demo start\` as root, without --loopback); on loopback every device shares one network, so use \`palm demo ${action === 'partition' ? 'hang' : 'revive'} ${d.name}\` instead`, 'EOPNOTSUPP')
      }
      const cut = action === 'partition'
      if ((d.partitioned === true) === cut) return `${d.name} is ${cut ? 'already cut off the LAN; `palm demo heal ' + d.name + '` puts it back' : 'on the LAN'}`
      await setDemoLink(s.lan, d.name, !cut)
      d.partitioned = cut
      said = cut
        ? `cut ${d.name} off the LAN (its link is down; the process runs on). The others mark it offline within a few seconds; reads take other fragments.`
        : `put ${d.name} back on the LAN; mDNS finds it again within a few seconds.`
      break
    }
    case 'corrupt': {
      const victim = await largestFragment(homePaths(d.home).fragments)
      if (victim == null) throw new NotFoundError(`${d.name} holds no fragment file to damage yet; write a file of a few MiB into ${s.folder} first`)
      const f = await open(victim.path, 'r+')
      try {
        const at = Math.floor(victim.size / 2)
        const b = Buffer.alloc(1)
        await f.read(b, 0, 1, at)
        b[0] ^= 0xff
        await f.write(b, 0, 1, at)
      } finally {
        await f.close()
      }
      said = `flipped one byte of fragment ${victim.name} on ${d.name}. A read that uses it finds the CID does not match and takes another fragment; \`palm fsck --home ${d.home}\` reports it and \`--repair\` rebuilds it.`
      break
    }
  }
  await saveDemo(s)
  return said
}

async function largestFragment (dir: string): Promise<{ path: string, name: string, size: number } | undefined> {
  let best: { path: string, name: string, size: number } | undefined
  const walk = async (d: string): Promise<void> => {
    let list
    try { list = await readdir(d, { withFileTypes: true }) } catch { return }
    for (const e of list) {
      const p = join(d, e.name)
      if (e.isDirectory()) { if (e.name !== 'quarantine') await walk(p); continue }
      if (!e.name.startsWith('bafk')) continue
      const size = (await stat(p)).size
      if (best == null || size > best.size) best = { path: p, name: e.name, size }
    }
  }
  await walk(dir)
  return best
}

/** Removes everything the demo made: the mount, the processes, the homes and the folder. */
export async function stopDemo (dir: string): Promise<string[]> {
  const s = await readDemo(dir)
  const done: string[] = []
  for (const d of s.devices) if (d.state === 'hung' && alive(d.pid)) process.kill(d.pid, 'SIGCONT')
  const env = deviceEnv(s.mode)
  const mountDevice = s.devices.find(d => d.role === 'mount')
  if (mountDevice != null) {
    await palm(['unmount', s.folder, '--home', mountDevice.home], env).catch(() => undefined)
    done.push(`unmounted ${s.folder}`)
  }
  for (const d of s.devices) {
    if (!alive(d.pid)) continue
    process.kill(d.pid, 'SIGTERM')
    if (!await waitGone(d.pid, 20_000)) {
      process.kill(d.pid, 'SIGKILL')
      await waitGone(d.pid, 10_000)
    }
    done.push(`stopped ${d.name} (pid ${d.pid})`)
  }
  if (mountDevice != null && await isMounted(s.folder)) {
    await palm(['unmount', s.folder, '--home', mountDevice.home], env).catch(() => undefined)
  }
  if (s.relayPid != null && alive(s.relayPid)) {
    process.kill(s.relayPid, 'SIGTERM')
    await waitGone(s.relayPid, 5_000)
  }
  if (s.lan != null) {
    const gone = await removeDemoLan(s.lan.prefix)
    if (gone.length > 0) done.push(`removed ${gone.length} network namespaces (${s.lan.prefix}-*)`)
  }
  if (await isMounted(s.folder)) throw new BusyError(`${s.folder} is still mounted; run \`fusermount -uz ${s.folder}\` and \`palm demo stop\` again`)
  await rm(dir, { recursive: true, force: true })
  done.push(`removed ${dir}`)
  return done
}

async function isMounted (path: string): Promise<boolean> {
  const text = await readFile('/proc/self/mountinfo', 'utf8')
  return text.split('\n').some(l => l.split(' ')[4] === path)
}
