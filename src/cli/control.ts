/** Runs `fn` against the daemon's control API (or the in-process one when no daemon runs), then lets it go. */
import type { PalmConfig } from '../config/defaults.js'
import { openControl, type ControlApi } from '../daemon/index.js'

export async function withControl<T> (config: PalmConfig, fn: (api: ControlApi, remote: boolean) => Promise<T>): Promise<T> {
  const control = await openControl(config)
  try {
    return await fn(control.api, control.remote)
  } finally {
    await control.close()
  }
}
