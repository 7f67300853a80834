/**
 * The shortfall of writes, persisted: fragments stored on another device than the one they are
 * meant for (it was offline or failing), waiting to be copied there. One append-only file of JSON
 * lines per target device in the queue directory (`<home>/spread/<peer id>.jsonl`), so memory holds
 * only counts, a restart forgets nothing (an entry is written before the write that caused it
 * returns) and draining one target never reads another's entries.
 *
 * Draining renames the target's file to `.spreading`, streams it in batches, and appends what could
 * not be copied back to a fresh file; a crash mid-drain leaves the `.spreading` file, which the next
 * start puts back in the queue (copies are idempotent, so a repeat costs only time).
 */
import { createReadStream } from 'node:fs'
import { appendFile, mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { InvalidArgumentError } from '../errors.js'
import { throwIfAborted, type AbortOptions } from '../util/abort.js'
import type { Logger } from '../util/logger.js'
import type { SpreadEntry, SpreadQueue } from './types.js'

const EXT = '.jsonl'
const DRAINING = '.spreading'

/** Settings of the persisted queue. */
export interface FileSpreadQueueInit {
  /** Directory of the queue files (created at start). */
  dir: string
  /** Entries handed to a drain handler at once. Default 64. */
  batchSize?: number
}

/** What a drain handler returns: the entries to keep queued, or 'stop' to keep the rest unread. */
export type DrainResult = SpreadEntry[] | 'stop'

interface Line { c: string, t: string, h: string[], s: string, f?: string }

function toLine (e: SpreadEntry): string {
  const l: Line = { c: e.cid, t: e.target, h: e.holders, s: e.stripe, ...(e.file != null ? { f: e.file } : {}) }
  return JSON.stringify(l) + '\n'
}

function fromLine (text: string): SpreadEntry | undefined {
  try {
    const l = JSON.parse(text) as Line
    if (typeof l.c !== 'string' || typeof l.t !== 'string' || !Array.isArray(l.h)) return undefined
    return { cid: l.c, target: l.t, holders: l.h.filter(h => typeof h === 'string'), stripe: String(l.s ?? ''), ...(typeof l.f === 'string' ? { file: l.f } : {}) }
  } catch {
    return undefined
  }
}

function checkTarget (id: string): void {
  if (!/^[A-Za-z0-9]{1,128}$/.test(id)) throw new InvalidArgumentError(`"${id}" is not a device id the spread queue can hold`)
}

/** The persisted spread queue (call `start()` before use). */
export class FileSpreadQueue implements SpreadQueue {
  readonly #dir: string
  readonly #batchSize: number
  readonly #log: Logger
  readonly #counts = new Map<string, number>()
  readonly #locks = new Map<string, Promise<unknown>>()
  /** Targets appended to since the last sync. */
  readonly #unsynced = new Set<string>()
  /** Open append handles by target (closed before a drain renames the file, and at stop). */
  readonly #handles = new Map<string, FileHandle>()
  #listener?: (targets: string[]) => void

  constructor (init: FileSpreadQueueInit, log: Logger) {
    this.#dir = init.dir
    this.#batchSize = init.batchSize ?? 64
    this.#log = log
  }

  #file (target: string, suffix = EXT): string {
    return join(this.#dir, target + suffix)
  }

  /** Runs `fn` after every earlier locked call for `target` (appends and rotations never interleave). */
  async #locked<T>(target: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.#locks.get(target) ?? Promise.resolve()).then(fn, fn)
    const tail = run.catch(() => {})
    this.#locks.set(target, tail)
    try {
      return await run
    } finally {
      if (this.#locks.get(target) === tail) this.#locks.delete(target)
    }
  }

  /** Creates the directory, puts back what an interrupted drain left, and counts the entries. */
  async start (): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 })
    const names = await readdir(this.#dir)
    for (const name of names.filter(n => n.endsWith(DRAINING))) {
      const target = name.slice(0, -DRAINING.length)
      await appendFile(this.#file(target), await readFile(join(this.#dir, name)))
      await rm(join(this.#dir, name), { force: true })
    }
    for (const name of (await readdir(this.#dir)).filter(n => n.endsWith(EXT))) {
      const target = name.slice(0, -EXT.length)
      const n = await this.#countLines(join(this.#dir, name))
      if (n > 0) this.#counts.set(target, n)
      else await rm(join(this.#dir, name), { force: true })
    }
    if (this.count() > 0) this.#log('%d fragments wait to be spread to %d devices', this.count(), this.#counts.size)
  }

  async stop (): Promise<void> {
    await Promise.all([...this.#locks.values()])
    for (const target of [...this.#handles.keys()]) await this.#closeHandle(target)
  }

  async #closeHandle (target: string): Promise<void> {
    const fh = this.#handles.get(target)
    this.#handles.delete(target)
    await fh?.close()
  }

  /** Called with the targets of each `add` (the spreader starts copying to online ones). */
  onAdded (listener: (targets: string[]) => void): void {
    this.#listener = listener
  }

  async add (entries: SpreadEntry[], options: AbortOptions = {}): Promise<void> {
    if (entries.length === 0) return
    throwIfAborted(options.signal, 'queueing fragments to spread')
    const byTarget = new Map<string, SpreadEntry[]>()
    for (const e of entries) {
      checkTarget(e.target)
      byTarget.set(e.target, [...(byTarget.get(e.target) ?? []), e])
    }
    await Promise.all([...byTarget].map(async ([target, list]) => { await this.#append(target, list) }))
    this.#listener?.([...byTarget.keys()])
  }

  /** Appends entries for `target`; `counted`: they are already in the count (put back by a drain). */
  async #append (target: string, list: SpreadEntry[], counted = false): Promise<void> {
    await this.#locked(target, async () => {
      let fh = this.#handles.get(target)
      if (fh == null) this.#handles.set(target, fh = await open(this.#file(target), 'a', 0o600))
      await fh.write(list.map(toLine).join(''))
      if (!counted) this.#counts.set(target, (this.#counts.get(target) ?? 0) + list.length)
      this.#unsynced.add(target)
    })
  }

  async #countLines (path: string): Promise<number> {
    let n = 0
    try {
      for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) if (line.trim() !== '') n++
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    return n
  }

  count (): number {
    let n = 0
    for (const c of this.#counts.values()) n += c
    return n
  }

  /** Fragments waiting for `target`. */
  countFor (target: string): number {
    return this.#counts.get(target) ?? 0
  }

  /** Devices with fragments waiting. */
  targets (): string[] {
    return [...this.#counts].filter(([, n]) => n > 0).map(([t]) => t)
  }

  async sync (options: AbortOptions = {}): Promise<void> {
    const targets = [...this.#unsynced]
    this.#unsynced.clear()
    for (const target of targets) {
      throwIfAborted(options.signal, 'syncing the spread queue')
      await this.#locked(target, async () => {
        const open_ = this.#handles.get(target)
        if (open_ != null) { await open_.datasync(); return }
        const fh = await open(this.#file(target), 'r').catch(() => undefined)
        if (fh == null) return
        try { await fh.datasync() } finally { await fh.close() }
      })
    }
    if (targets.length > 0) {
      const dir = await open(this.#dir, 'r')
      try { await dir.sync() } finally { await dir.close() }
    }
  }

  /**
   * Hands `target`'s entries to `handle` in batches; what it returns to keep (or, after 'stop',
   * everything not yet handled) is queued again. Returns how many entries left the queue.
   */
  async drain (target: string, handle: (batch: SpreadEntry[]) => Promise<DrainResult>, options: AbortOptions = {}): Promise<number> {
    checkTarget(target)
    const draining = this.#file(target, DRAINING)
    const rotated = await this.#locked(target, async () => {
      if ((this.#counts.get(target) ?? 0) === 0) return false
      await this.#closeHandle(target)
      await rename(this.#file(target), draining)
      return true
    })
    if (!rotated) return 0
    let removed = 0
    let stopped = false
    let batch: SpreadEntry[] = []
    const keep = async (list: SpreadEntry[]): Promise<void> => { if (list.length > 0) await this.#append(target, list, true) }
    const flush = async (): Promise<void> => {
      const current = batch
      batch = []
      if (current.length === 0) return
      if (stopped || options.signal?.aborted === true) { await keep(current); return }
      let result: DrainResult
      try {
        result = await handle(current)
      } catch (err) {
        this.#log.error('spreading to %s failed: %e', target, err)
        result = 'stop'
      }
      if (result === 'stop') { stopped = true; await keep(current); return }
      await keep(result)
      removed += current.length - result.length
    }
    try {
      for await (const line of createInterface({ input: createReadStream(draining), crlfDelay: Infinity })) {
        const e = fromLine(line)
        if (e == null) { if (line.trim() !== '') this.#log.error('dropped a damaged line of the spread queue for %s: %s', target, line.slice(0, 200)); removed++; continue }
        batch.push(e)
        if (batch.length >= this.#batchSize) await flush()
      }
      await flush()
    } catch (err) {
      // Reading failed midway: put the whole file back (copies are idempotent) and count again.
      this.#log.error('draining the spread queue for %s failed, kept every entry: %e', target, err)
      await this.#locked(target, async () => {
        await this.#closeHandle(target)
        await appendFile(this.#file(target), await readFile(draining))
        await rm(draining, { force: true })
        this.#counts.set(target, await this.#countLines(this.#file(target)))
      })
      return 0
    }
    // Entries were put back as they were handled; only the removed ones leave the count.
    await this.#locked(target, async () => {
      await rm(draining, { force: true })
      const left = (this.#counts.get(target) ?? 0) - removed
      if (left > 0) this.#counts.set(target, left)
      else this.#counts.delete(target)
    })
    return removed
  }
}
