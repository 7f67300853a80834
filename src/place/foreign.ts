/**
 * Fragments other devices placed on this one. The journal is replicated, so GC knows whether a
 * file still references them; this log tells GC which fragments came from other devices, which
 * get a longer grace (`foreignGcGraceMs`) because the journal ops naming them may still be on
 * their way from a device that went offline right after its write (daemon/fragments.ts).
 *
 * The network layer serves the store through `wrap(store)`, which records every fragment another
 * device stores here (`+cid`) or deletes (`-cid`) in an append-only file in the home; `load()`
 * replays it for GC (and compacts it when most lines are stale). A put answers only after its line
 * is written, so a killed process never forgets a fragment it acknowledged.
 */
import { createReadStream } from 'node:fs'
import { open, rename, writeFile, type FileHandle } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import type { CID } from 'multiformats/cid'
import type { FragmentStore } from '../store/index.js'
import type { AbortOptions } from '../util/abort.js'

/** Settings of the registry. */
export interface ForeignFragmentsInit {
  /** The append-only file (created on first use). */
  path: string
}

/** Recently recorded puts not written again (a fragment stored twice needs one line). */
const RECENT_MAX = 10_000

export class ForeignFragments {
  readonly #path: string
  #pending: string[] = []
  #flushing?: Promise<void>
  /** Serialises file writes (appends and compaction). */
  #tail: Promise<void> = Promise.resolve()
  #recent = new Set<string>()
  /** The log, open for appending (opened on first use, reopened after compaction). */
  #fh?: FileHandle

  constructor (init: ForeignFragmentsInit) {
    this.#path = init.path
  }

  async #exclusive (fn: () => Promise<void>): Promise<void> {
    const run = this.#tail.then(fn)
    this.#tail = run.catch(() => {})
    await run
  }

  /** Queues a line and resolves once it is appended (lines of concurrent calls share one write). */
  async #record (line: string): Promise<void> {
    this.#pending.push(line)
    this.#flushing ??= (async () => {
      await Promise.resolve()
      const lines = this.#pending
      this.#pending = []
      this.#flushing = undefined
      await this.#exclusive(async () => {
        this.#fh ??= await open(this.#path, 'a', 0o600)
        await this.#fh.write(lines.join(''))
      })
    })()
    await this.#flushing
  }

  async #stored (cid: CID): Promise<void> {
    const key = cid.toString()
    if (this.#recent.has(key)) return
    await this.#record(`+${key}\n`)
    if (this.#recent.size >= RECENT_MAX) this.#recent = new Set()
    this.#recent.add(key)
  }

  async #deleted (cids: CID[]): Promise<void> {
    for (const c of cids) this.#recent.delete(c.toString())
    await this.#record(cids.map(c => `-${c.toString()}\n`).join(''))
  }

  /** The store as other devices see it: their puts and deletes are recorded. */
  wrap (store: FragmentStore): FragmentStore {
    return {
      put: async (cid, bytes, options) => { await store.put(cid, bytes, options); await this.#stored(cid) },
      get: async (cid, options) => await store.get(cid, options),
      has: async (cid, options) => await store.has(cid, options),
      delete: async (cid, options) => { await this.#deleted([cid]); await store.delete(cid, options) },
      sync: async (cids, options) => { await store.sync(cids, options) },
      list: (options) => store.list(options),
      usage: () => store.usage(),
      start: async () => { await store.start() },
      stop: async () => { await store.stop() }
    }
  }

  /** Every fragment other devices stored here and did not delete (CID strings). */
  async load (_options: AbortOptions = {}): Promise<Set<string>> {
    const held = new Set<string>()
    let lines = 0
    await this.#exclusive(async () => {
      try {
        for await (const line of createInterface({ input: createReadStream(this.#path), crlfDelay: Infinity })) {
          lines++
          if (line.startsWith('+')) held.add(line.slice(1))
          else if (line.startsWith('-')) held.delete(line.slice(1))
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
      // Mostly stale lines: rewrite the file with the live set (temp + rename).
      if (lines > 2 * held.size + 1000) {
        const tmp = `${this.#path}.tmp-${process.pid}`
        await writeFile(tmp, [...held].map(c => `+${c}\n`).join(''), { mode: 0o600 })
        await this.#fh?.close()
        this.#fh = undefined
        await rename(tmp, this.#path)
      }
    })
    return held
  }

  async start (): Promise<void> {}

  /** Closes the log (after the network that records into it has stopped). */
  async stop (): Promise<void> {
    await this.#exclusive(async () => {
      await this.#fh?.close()
      this.#fh = undefined
    })
  }
}
