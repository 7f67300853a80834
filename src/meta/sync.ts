/**
 * The power-loss point of the journal, and group-committed fsync: concurrent callers share one fdatasync. A caller that arrives while one is
 * running waits for the next, because the running one may have started before its data was written.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { journalError } from './db.js'

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

/**
 * fdatasync of the journal's `-wal` file, shared by concurrent callers. Commits are written to the
 * WAL; SQLite syncs the WAL before a checkpoint and the database after it, so a synced WAL means
 * every committed transaction survives power loss. Disabled for ':memory:' and 'every-commit'.
 */
export class WalSync {
  readonly #path: string
  readonly #enabled: boolean
  readonly #group = new GroupSync(async () => { await this.#datasync() })
  #wal?: FileHandle

  constructor (dbPath: string, enabled: boolean) {
    this.#path = dbPath
    this.#enabled = enabled
  }

  async sync (): Promise<void> {
    if (this.#enabled) await this.#group.sync()
  }

  async close (): Promise<void> {
    await this.#wal?.close()
    this.#wal = undefined
  }

  async #datasync (): Promise<void> {
    if (this.#wal == null) {
      try {
        this.#wal = await open(`${this.#path}-wal`, 'r')
      } catch (err) {
        // No WAL file: every commit is already in the (synced) database file.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
        throw journalError(err, this.#path, 'opening its WAL to sync it')
      }
    }
    try {
      await this.#wal.datasync()
    } catch (err) {
      throw journalError(err, this.#path, 'syncing its WAL to disk')
    }
  }
}
