/**
 * Whether the journal may answer calls before their commit (once they are in the redo log): only
 * while the disk holding it has room to spare. Near full, a commit may fail with ENOSPC, and a call
 * already answered could not be told; so calls then wait for their commit, which reports it. Free
 * space is read with statfs at most once per `intervalMs`, in the background.
 */
import { diskFreeBytes } from '../util/disk-free.js'

/** Settings of the room check. */
export interface JournalRoomInit {
  /** Directory of the journal. */
  dir: string
  /** Free bytes below which calls wait for their commit (default 256 MiB). */
  reserveBytes?: number
  /** Longest time between two statfs calls, ms (default 1000). */
  intervalMs?: number
}

export class JournalRoom {
  readonly #dir: string
  readonly #reserveBytes: number
  readonly #intervalMs: number
  #freeBytes = 0
  #checkedAt = -Infinity
  #checking: Promise<void> | undefined

  constructor (init: JournalRoomInit) {
    this.#dir = init.dir
    this.#reserveBytes = init.reserveBytes ?? 256 * 1024 * 1024
    this.#intervalMs = init.intervalMs ?? 1000
  }

  /** Reads the free space now (at start, before the first answer). */
  async refresh (): Promise<void> {
    this.#checking ??= (async () => {
      try {
        this.#freeBytes = await diskFreeBytes(this.#dir)
      } catch {
        // Unknown: answer only after commits until a check works.
        this.#freeBytes = 0
      } finally {
        this.#checkedAt = performance.now()
        this.#checking = undefined
      }
    })()
    await this.#checking
  }

  /** True when the last check found more free space than the reserve; starts a check when stale. */
  allowed (): boolean {
    if (performance.now() - this.#checkedAt > this.#intervalMs && this.#checking == null) void this.refresh()
    return this.#freeBytes > this.#reserveBytes
  }
}
