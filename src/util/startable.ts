/**
 * Idempotent start/stop (holepunch ready-resource): a repeated call returns the same promise, and
 * stop waits for an unfinished start.
 */
export interface Startable {
  start: () => Promise<void>
  stop: () => Promise<void>
}

export abstract class Lifecycle implements Startable {
  #starting?: Promise<void>
  #stopping?: Promise<void>

  protected abstract onStart (): Promise<void>
  protected abstract onStop (): Promise<void>

  get started (): boolean { return this.#starting != null && this.#stopping == null }

  async start (): Promise<void> {
    if (this.#stopping != null) throw new Error(`${this.constructor.name} was stopped and cannot restart`)
    this.#starting ??= this.onStart()
    await this.#starting
  }

  async stop (): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#starting != null) await this.#starting.catch(() => {})
      else this.#starting = Promise.resolve()
      await this.onStop()
    })()
    await this.#stopping
  }
}
