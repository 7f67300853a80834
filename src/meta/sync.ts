/**
 * Group-committed fsync: concurrent callers share one fdatasync. A caller that arrives while one is
 * running waits for the next, because the running one may have started before its data was written.
 */
export class GroupSync {
  readonly #run: () => Promise<void>
  #running?: Promise<void>
  #queued?: Promise<void>

  constructor (run: () => Promise<void>) {
    this.#run = run
  }

  async sync (): Promise<void> {
    if (this.#queued != null) { await this.#queued; return }
    if (this.#running != null) {
      const running = this.#running
      this.#queued = running.catch(() => {}).then(async () => {
        this.#queued = undefined
        await this.#start()
      })
      await this.#queued
      return
    }
    await this.#start()
  }

  async #start (): Promise<void> {
    const p = this.#run().finally(() => { if (this.#running === p) this.#running = undefined })
    this.#running = p
    await p
  }
}
