/**
 * A background job that runs every `intervalMs`, never overlapping itself, each run with its own
 * timeout signal (libp2p utils' repeatingTask). `stop()` aborts a running pass and waits for it.
 */
import { setMaxListeners } from 'node:events'
import type { Logger } from '@libp2p/interface'

export interface RepeatingTaskInit {
  intervalMs: number
  /** Abort a run after this long (default intervalMs). */
  timeoutMs?: number
  /** Run once right after start (default false). */
  runImmediately?: boolean
}

export interface RepeatingTask {
  start: () => void
  stop: () => Promise<void>
}

export function repeatingTask (name: string, fn: (signal: AbortSignal) => Promise<void>, init: RepeatingTaskInit, log: Logger): RepeatingTask {
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let controller: AbortController | undefined
  let stopped = false

  const schedule = (ms: number): void => {
    if (stopped) return
    timer = setTimeout(() => { running = run() }, ms)
    timer.unref?.()
  }
  const run = async (): Promise<void> => {
    controller = new AbortController()
    setMaxListeners(Infinity, controller.signal)
    const timeout = setTimeout(() => { controller?.abort(new Error(`${name} took longer than ${init.timeoutMs ?? init.intervalMs} ms`)) }, init.timeoutMs ?? init.intervalMs)
    timeout.unref?.()
    try {
      await fn(controller.signal)
    } catch (err) {
      if (!stopped) log.error('%s failed: %e', name, err)
    } finally {
      clearTimeout(timeout)
      running = undefined
      schedule(init.intervalMs)
    }
  }
  return {
    start: () => {
      if (init.intervalMs <= 0 || timer != null || stopped) return
      schedule(init.runImmediately === true ? 0 : init.intervalMs)
    },
    stop: async () => {
      stopped = true
      clearTimeout(timer)
      controller?.abort(new Error(`${name} stopped`))
      await running
    }
  }
}
