/**
 * Cancellation helpers. Every I/O function takes `options: AbortOptions` last and forwards it.
 */
import { setMaxListeners } from 'node:events'
import { AbortedError, TimeoutError } from '../errors.js'

export interface AbortOptions {
  signal?: AbortSignal
}

/** Throws AbortedError (or TimeoutError when the signal's reason is a timeout) if the signal fired. */
export function throwIfAborted (signal: AbortSignal | undefined, what = 'operation'): void {
  if (signal?.aborted === true) throw abortError(signal, what)
}

/** The PalmError that a fired signal stands for. */
export function abortError (signal: AbortSignal, what = 'operation'): Error {
  const reason: unknown = signal.reason
  if (reason instanceof AbortedError || reason instanceof TimeoutError) return reason
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new TimeoutError(`${what} timed out`, { cause: reason })
  }
  return new AbortedError(`${what} was cancelled`, { cause: reason })
}

/**
 * A signal that fires when any of the given signals fires or after `timeoutMs`.
 * Call `clear()` when done so timers and listeners do not leak.
 */
export function combineSignals (signals: Array<AbortSignal | undefined>, timeoutMs?: number): { signal: AbortSignal, clear: () => void } {
  const controller = new AbortController()
  setMaxListeners(Infinity, controller.signal)
  const cleanups: Array<() => void> = []
  const clear = (): void => { for (const c of cleanups.splice(0)) c() }
  for (const s of signals) {
    if (s == null) continue
    if (s.aborted) { controller.abort(s.reason); return { signal: controller.signal, clear } }
    const onAbort = (): void => { controller.abort(s.reason); clear() }
    s.addEventListener('abort', onAbort, { once: true })
    cleanups.push(() => { s.removeEventListener('abort', onAbort) })
  }
  if (timeoutMs != null && Number.isFinite(timeoutMs)) {
    const timer = setTimeout(() => {
      controller.abort(new TimeoutError(`timed out after ${timeoutMs} ms`))
      clear()
    }, timeoutMs)
    timer.unref?.()
    cleanups.push(() => { clearTimeout(timer) })
  }
  return { signal: controller.signal, clear }
}

/**
 * The deadline of a sequence of operations that each get `timeoutMs` (the requests on one stream):
 * one AbortController, one listener per parent and one timer for the whole sequence, where
 * combineSignals per operation would make all three anew each time (a few microseconds of a
 * sub-millisecond request). `restart()` starts an operation's clock; the signal fires when a parent
 * fires or when an operation runs past `timeoutMs`, and then stays fired: the sequence is over.
 * Call `clear()` when the sequence ends.
 */
export class RestartableDeadline {
  readonly #controller = new AbortController()
  readonly #timer: ReturnType<typeof setTimeout>
  readonly #cleanups: Array<() => void> = []

  constructor (parents: Array<AbortSignal | undefined>, timeoutMs: number) {
    setMaxListeners(Infinity, this.#controller.signal)
    this.#timer = setTimeout(() => { this.#abort(new TimeoutError(`timed out after ${timeoutMs} ms`)) }, timeoutMs)
    this.#timer.unref?.()
    for (const s of parents) {
      if (s == null) continue
      if (s.aborted) { this.#abort(s.reason); break }
      const onAbort = (): void => { this.#abort(s.reason) }
      s.addEventListener('abort', onAbort, { once: true })
      this.#cleanups.push(() => { s.removeEventListener('abort', onAbort) })
    }
  }

  get signal (): AbortSignal { return this.#controller.signal }

  /** Gives the next operation a full `timeoutMs` from now. */
  restart (): void {
    if (!this.#controller.signal.aborted) this.#timer.refresh()
  }

  /** Ends the sequence: no timer or listener is left behind. */
  clear (): void {
    clearTimeout(this.#timer)
    for (const c of this.#cleanups.splice(0)) c()
  }

  #abort (reason: unknown): void {
    this.clear()
    this.#controller.abort(reason)
  }
}

/** Resolves after `ms`, or rejects with the signal's error. */
export async function delay (ms: number, options: AbortOptions = {}): Promise<void> {
  throwIfAborted(options.signal)
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { options.signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(timer); reject(abortError(options.signal as AbortSignal)) }
    options.signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** Races a promise against a signal: rejects as soon as the signal fires (the promise keeps running). */
export async function raceSignal<T> (promise: Promise<T>, signal: AbortSignal | undefined, what?: string): Promise<T> {
  if (signal == null) return await promise
  throwIfAborted(signal, what)
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        onAbort = () => { reject(abortError(signal, what)) }
        signal.addEventListener('abort', onAbort, { once: true })
      })
    ])
  } finally {
    if (onAbort != null) signal.removeEventListener('abort', onAbort)
  }
}
