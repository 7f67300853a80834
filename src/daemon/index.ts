/**
 * @packageDocumentation
 * The daemon layer: the composition root (daemon.ts builds and wires every component), its
 * lifecycle as a process, and the control API the CLI talks to. The CLI imports only this file
 * and control-api.ts.
 *
 * Invariants:
 * - Only daemon.ts constructs components; start is bottom-up and stop the reverse.
 * - One daemon per home: a second one refuses to start while the first answers on run/palm.sock.
 * - When no daemon runs, `openControl` serves the same API in-process over the home's files
 *   (no mount, no network), so `palm status`/`fsck` work on a stopped device.
 */
import type { OptionKey, PalmConfig } from '../config/defaults.js'
import { loadConfig } from '../config/load.js'
import type { ControlApi } from './control-api.js'
import { controlClient, daemonRunning } from './control-client.js'
import { Daemon } from './daemon.js'
import { homePaths, readSwarmInfo } from './home.js'

export { initDevice, joinDevice, type DeviceReport } from './device.js'
export { repairJournal, type JournalRebuild } from './journal-repair.js'
export { runDaemon, spawnDaemon, stopDaemon, type SpawnResult } from './process.js'
export { daemonEnv } from './daemon-env.js'
export type { ControlApi, StatusReport, PeerStatus, FsckReport, InviteReport, FileInfo } from './control-api.js'
export { controlClient, daemonRunning } from './control-client.js'
export { homePaths } from './home.js'
export { checkMountpoint } from './mountpoint-check.js'

/** Resolves the configuration from flags, environment and the home's config.json. */
export async function resolveConfig (flags: Partial<Record<OptionKey, unknown>>, options: { noFile?: boolean } = {}): Promise<PalmConfig> {
  return await loadConfig({ flags, noFile: options.noFile })
}

export interface ControlHandle {
  api: ControlApi
  /** True when talking to a running daemon. */
  remote: boolean
  close: () => Promise<void>
}

/** The running daemon's control API, or an in-process one over the home when none runs. */
export async function openControl (config: PalmConfig): Promise<ControlHandle> {
  const paths = homePaths(config.home)
  if (await daemonRunning(paths.socket)) {
    return { api: controlClient({ socketPath: paths.socket }), remote: true, close: async () => {} }
  }
  await readSwarmInfo(config.home)
  const daemon = new Daemon({ config, network: false, controlSocket: false })
  try {
    await daemon.start()
  } catch (err) {
    // What started (the store) is let go; the error (a damaged journal, say) is the caller's.
    await daemon.stop().catch(() => {})
    throw err
  }
  return { api: daemon.control, remote: false, close: async () => { await daemon.stop() } }
}
