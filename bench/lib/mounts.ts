/**
 * Mounts for benchmarks: a PALM daemon (`palm mount --foreground`) and a bindfs passthrough of a
 * local directory, each served by its own process (the benchmark process only uses the mounts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { isMountpoint } from '../../src/daemon/mountinfo.js'
import { daemonEnv } from '../../src/daemon/daemon-env.js'
import { recoverStaleMount } from '../../native/fuse/index.js'

export const PALM_BIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))

export interface Served {
  dir: string
  child: ChildProcess
  stop: () => Promise<void>
}

/** Environment for bench devices: loopback only, no mDNS on the host's interface. */
export function benchEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // Daemons run as `palm mount` starts them (huge pages for their buffers).
  return { ...daemonEnv(process.env), PALM_MDNS: 'false', PALM_DHT: 'false', PALM_LISTEN: '/ip4/127.0.0.1/tcp/0', ...extra }
}

async function waitFor (what: string, child: ChildProcess, ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!await ready()) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited before it was ready`)
    if (Date.now() > until) throw new Error(`${what} was not ready within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

async function stopChild (child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGTERM')
    await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 60_000))])
  }
  if (await isMountpoint(dir)) await recoverStaleMount(dir)
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
}

/** `palm init` (if `init`) then `palm mount DIR --foreground`; resolves when READY and mounted. */
export async function servePalm (home: string, dir: string, options: { init?: string[], env?: Record<string, string> } = {}): Promise<Served> {
  const env = benchEnv(options.env)
  if (options.init != null) {
    const r = spawnSync(process.execPath, [PALM_BIN, 'init', '--home', home, '--name', 'bench', ...options.init], { env, encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`palm init failed: ${r.stderr}`)
  }
  mkdirSync(dir, { recursive: true })
  const child = spawn(process.execPath, [PALM_BIN, 'mount', dir, '--home', home, '--foreground'], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  await waitFor('palm mount', child, async () => out.includes('READY') && await isMountpoint(dir, 'fuse.palm'))
  return { dir, child, stop: async () => { await stopChild(child, dir) } }
}

/** A bindfs passthrough of `src` at `dir` (bindfs 1.14 on libfuse 2: big_writes for 128 KiB writes). */
export async function serveBindfs (src: string, dir: string, opts = 'big_writes'): Promise<Served> {
  mkdirSync(dir, { recursive: true })
  const child = spawn('bindfs', ['-f', '--no-allow-other', '-o', opts, src, dir], { stdio: 'inherit' })
  await waitFor('bindfs', child, async () => await isMountpoint(dir, 'fuse'))
  return { dir, child, stop: async () => { await stopChild(child, dir) } }
}

const hasCommand = (command: string): boolean => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0

/**
 * Makes sure each [command, Debian package] is there, installing the missing packages with apt
 * (root only). A benchmark must not measure half its comparison: by default this prints what is
 * missing and how to get it, then exits non-zero; with `exit: false` it returns false instead.
 */
export function requireTools (tools: Array<[string, string]>, opts: { exit?: boolean } = {}): boolean {
  let missing = tools.filter(([command]) => !hasCommand(command))
  if (missing.length > 0 && process.getuid?.() === 0) {
    const pkgs = [...new Set(missing.map(([, pkg]) => pkg))]
    console.log(`installing ${pkgs.join(', ')} with apt-get`)
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' })
    spawnSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
    missing = missing.filter(([command]) => !hasCommand(command))
  }
  if (missing.length === 0) return true
  if (opts.exit === false) return false
  const how = process.getuid?.() === 0 ? 'apt-get could not install them' : 'run the benchmark as root so that it installs them'
  console.error(`cannot run this benchmark: ${missing.map(([c, p]) => `${c} (Debian package ${p})`).join(', ')} missing; ${how}, or \`apt-get install ${[...new Set(missing.map(([, p]) => p))].join(' ')}\``)
  process.exit(1)
}
