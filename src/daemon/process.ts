/**
 * How the daemon runs as a process: in the foreground (`palm mount --foreground`, `palm serve`)
 * until SIGTERM/SIGINT or a stop request; in the background (`palm mount`), spawned detached and
 * logging to the home's logs/; and how `palm unmount` stops it, or recovers its stale mount when it
 * died.
 */
import { spawn } from 'node:child_process'
import { mkdir, open, readFile, rm, realpath } from 'node:fs/promises'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PalmConfig } from '../config/defaults.js'
import { BusyError, PalmError } from '../errors.js'
import { defaultLogger, enableLogs } from '../util/logger.js'
import { isStaleMount, recoverStaleMount, unmountPath } from '../fuse/index.js'
import { controlClient, daemonRunning } from './control-client.js'
import { Daemon } from './daemon.js'
import { homePaths, readSwarmInfo, writeFileAtomic } from './home.js'
import { recordAddrs } from './invite.js'
import { isMountpoint } from './mountinfo.js'
import { describeOther, mountOwner } from './mount-owner.js'
import { checkMountpoint } from './mountpoint-check.js'
import { installCrashGuard } from './crash-guard.js'
import { tuneDaemonHeap } from './heap.js'
import { tuneDaemonMalloc } from './malloc.js'
import { blake3Engine } from '../util/digest.js'
import { daemonEnv } from './daemon-env.js'

const CLI_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url))
/** What a daemon logs when DEBUG is not set: every palm event and error; no per-op trace, no DHT internals. */
export const DEFAULT_DAEMON_LOGS = 'palm:*,-palm:*:trace,-palm:net:dht*'

export interface RunOptions {
  mountpoint?: string
}

async function refuseIfRunning (config: PalmConfig): Promise<void> {
  const paths = homePaths(config.home)
  if (!await daemonRunning(paths.socket)) return
  const s = await controlClient({ socketPath: paths.socket }).status()
  throw new BusyError(`a PALM daemon already runs for ${config.home} (pid ${String(s.daemon.pid)}${s.mount.path != null ? `, mounted at ${s.mount.path}` : ', not mounted'}); stop it with \`palm unmount\` first`)
}

/**
 * Throws BusyError when another home's (or a non-PALM) mount sits at `mountpoint`: `palm mount`
 * never recovers or covers a mount that is not this home's. True when a mount of this home is there.
 */
async function refuseOthersMount (config: PalmConfig, mountpoint: string): Promise<boolean> {
  const owner = await mountOwner(config.home, mountpoint, await recordedMountpoint(config))
  if (owner.kind === 'other') throw new BusyError(`cannot mount ${config.home} at ${mountpoint}: ${describeOther(owner)}; or choose another folder`, { details: { path: mountpoint } })
  return owner.kind === 'own'
}

/** Runs the daemon in this process until a signal or a stop request; resolves with the exit code. */
export async function runDaemon (config: PalmConfig, options: RunOptions): Promise<number> {
  // A daemon's log says what happened: events and errors by default, per-op traces with DEBUG.
  if (process.env.DEBUG == null || process.env.DEBUG === '') enableLogs(DEFAULT_DAEMON_LOGS)
  tuneDaemonHeap()
  await readSwarmInfo(config.home)
  await refuseIfRunning(config)
  const paths = homePaths(config.home)
  const mountpoint = options.mountpoint != null ? resolve(options.mountpoint) : undefined
  if (mountpoint != null) {
    if (await refuseOthersMount(config, mountpoint) && await isStaleMount(mountpoint)) await recoverStaleMount(mountpoint)
    else if (await isMountpoint(mountpoint)) throw new BusyError(`${mountpoint} is already a mount point; unmount it or choose another folder`)
    await checkMountpoint(mountpoint, { allowNonEmpty: config.allowNonEmpty })
    await mkdir(mountpoint, { recursive: true })
  }
  const log = defaultLogger().forComponent('palm:daemon')
  tuneDaemonMalloc(log)
  if (blake3Engine() === 'js') log('BLAKE3 runs in JavaScript (@noble/hashes): the native binary, built for Linux x64 with glibc, is not in use on this %s-%s (or PALM_BLAKE3=js), so reads and writes of fragment format 2 take several times the CPU', process.platform, process.arch)
  const removeGuard = installCrashGuard(log)
  let stopping: Promise<void> | undefined
  let resolveDone!: (code: number) => void
  const done = new Promise<number>(resolve => { resolveDone = resolve })
  const daemon = new Daemon({ config, mountpoint, onStopRequested: () => { void shutdown('stop request', 0) } })

  const shutdown = async (why: string, code: number): Promise<void> => {
    stopping ??= (async () => {
      log('stopping (%s)', why)
      let exit = code
      try {
        await daemon.stop()
      } catch (err) {
        process.stderr.write(`palm: stopping failed: ${(err as Error).message}\n`)
        exit = 1
      }
      await rm(paths.pidFile, { force: true })
      await rm(paths.mountFile, { force: true })
      resolveDone(exit)
    })()
    await stopping
  }
  const onSignal = (sig: NodeJS.Signals): void => { void shutdown(sig, 0) }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  process.on('SIGHUP', () => {})

  try {
    await daemon.start()
  } catch (err) {
    await daemon.stop().catch(() => {})
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
    removeGuard()
    throw err
  }
  await writeFileAtomic(paths.pidFile, `${process.pid}\n`)
  if (mountpoint != null) await writeFileAtomic(paths.mountFile, JSON.stringify({ mountpoint, pid: process.pid }) + '\n')
  await recordAddrs(daemon.parts).catch(() => {})
  const status = await daemon.control.status()
  process.stdout.write(`READY ${mountpoint != null ? `mounted ${mountpoint}` : 'serving'} device ${status.device.id}\n`)
  process.stdout.write(`protection: ${status.protection}\n`)
  const missing = status.missingDevices ?? []
  if (missing.length > 0) process.stdout.write(`still missing: ${missing.map(d => d.name === '' ? d.id : d.name).join(', ')}\n`)
  const code = await done
  process.off('SIGTERM', onSignal)
  process.off('SIGINT', onSignal)
  removeGuard()
  return code
}

async function tail (file: string, lines = 15): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

export interface SpawnResult {
  mountpoint: string
  pid: number
  logFile: string
  alreadyMounted: boolean
  warning?: string
  /** Devices expected back that had not answered when the daemon stopped waiting for them (names). */
  missing?: string[]
}

/**
 * Starts the daemon detached with a mount and returns once the mount is live and the daemon has
 * stopped waiting for the devices it knew (they answered, or `swarmWaitMs` passed).
 */
export async function spawnDaemon (config: PalmConfig, mountpointArg: string, argv: string[]): Promise<SpawnResult> {
  await readSwarmInfo(config.home)
  const paths = homePaths(config.home)
  const mountpoint = resolve(mountpointArg)
  if (await daemonRunning(paths.socket)) {
    const s = await controlClient({ socketPath: paths.socket }).status()
    if (s.mount.path === mountpoint) return { mountpoint, pid: s.daemon.pid ?? 0, logFile: paths.daemonLog, alreadyMounted: true }
    throw new BusyError(`a PALM daemon already runs for ${config.home} (pid ${String(s.daemon.pid)}${s.mount.path != null ? `, mounted at ${s.mount.path}` : ', without a mount'}); \`palm unmount\` it first`)
  }
  if (await refuseOthersMount(config, mountpoint) && await isStaleMount(mountpoint)) await recoverStaleMount(mountpoint)
  await checkMountpoint(mountpoint, { allowNonEmpty: config.allowNonEmpty })
  await mkdir(mountpoint, { recursive: true })
  await mkdir(paths.logs, { recursive: true })
  const logFd = await open(paths.daemonLog, 'a')
  // Pass the user's flags through; the mountpoint and --foreground are ours.
  const passthrough = argv.filter(a => a !== mountpointArg)
  const child = spawn(process.execPath, [CLI_MAIN, 'mount', mountpoint, '--foreground', '--home', config.home, ...passthrough], {
    detached: true,
    stdio: ['ignore', logFd.fd, logFd.fd],
    env: daemonEnv(process.env)
  })
  await logFd.close()
  let exited: string | undefined
  child.on('exit', (code, signal) => { exited = `exit code ${String(code ?? signal)}` })
  child.unref()
  const until = Date.now() + 60_000
  const client = controlClient({ socketPath: paths.socket, timeoutMs: 5000 })
  const real = await realpath(mountpoint)
  while (true) {
    if (exited != null) {
      throw new PalmError(`the PALM daemon stopped while mounting ${mountpoint} (${exited}). Last lines of ${paths.daemonLog}:\n${await tail(paths.daemonLog)}`, 'EIO')
    }
    try {
      const s = await client.status()
      if ((s.mount.path === mountpoint || s.mount.path === real) && s.daemon.starting !== true) {
        const missing = (s.missingDevices ?? []).map(d => d.name === '' ? d.id : d.name)
        return { mountpoint, pid: child.pid ?? 0, logFile: paths.daemonLog, alreadyMounted: false, ...(missing.length > 0 ? { missing } : {}) }
      }
    } catch {}
    if (Date.now() > until) {
      throw new PalmError(`${mountpoint} was not mounted within 60 s; the daemon (pid ${String(child.pid)}) logs to ${paths.daemonLog}:\n${await tail(paths.daemonLog)}`, 'ETIMEDOUT')
    }
    await new Promise(r => setTimeout(r, 100))
  }
}

async function pidGone (pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    try { process.kill(pid, 0) } catch { return true }
    await new Promise(r => setTimeout(r, 100))
  }
  return false
}

async function recordedMountpoint (config: PalmConfig): Promise<string | undefined> {
  try {
    const m = JSON.parse(await readFile(homePaths(config.home).mountFile, 'utf8'))
    return typeof m.mountpoint === 'string' ? m.mountpoint : undefined
  } catch {
    return undefined
  }
}

/** `palm unmount`: stop the running daemon (it flushes and unmounts), or recover a stale mount. */
export async function stopDaemon (config: PalmConfig, mountpointArg?: string): Promise<{ message: string }> {
  const paths = homePaths(config.home)
  if (await daemonRunning(paths.socket)) {
    const client = controlClient({ socketPath: paths.socket })
    const s = await client.status()
    if (mountpointArg != null && s.mount.path != null && resolve(mountpointArg) !== s.mount.path) {
      throw new BusyError(`the daemon of ${config.home} serves ${s.mount.path}, not ${resolve(mountpointArg)}`)
    }
    await client.stop()
    if (s.daemon.pid != null && !await pidGone(s.daemon.pid, 120_000)) {
      throw new PalmError(`the PALM daemon (pid ${s.daemon.pid}) did not stop within 2 minutes; see ${paths.daemonLog}`, 'ETIMEDOUT')
    }
    return { message: s.mount.path != null ? `unmounted ${s.mount.path}` : `stopped the daemon of ${config.home}` }
  }
  // No daemon answers: act only on a mount that is this home's (its source names the home).
  const recorded = await recordedMountpoint(config)
  const mountpoint = resolve(mountpointArg ?? recorded ?? config.mountpoint)
  const owner = await mountOwner(config.home, mountpoint, recorded)
  await rm(paths.pidFile, { force: true })
  await rm(paths.mountFile, { force: true })
  if (owner.kind === 'other') {
    return { message: `nothing to unmount: no PALM daemon runs for ${config.home}, and ${describeOther(owner)}` }
  }
  if (owner.kind === 'none') {
    return { message: `nothing to unmount: no PALM daemon runs for ${config.home} and ${mountpoint} is not mounted` }
  }
  if (await isStaleMount(mountpoint)) {
    await recoverStaleMount(mountpoint)
    return { message: `recovered the stale mount at ${mountpoint} (its daemon had died); \`palm mount\` mounts it again` }
  }
  // This home's mount answers, but its daemon does not answer on the control socket.
  await unmountPath(mountpoint)
  return { message: `unmounted ${mountpoint} (its daemon did not answer on ${paths.socket})` }
}
