/**
 * The single writer of pack segments. Records queued by concurrent puts are written together with
 * one positioned writev (up to MAX_APPEND_BATCH_BYTES or 512 records), so a burst of small
 * fragments costs one system call rather than one file each; a batch of at most
 * SYNC_APPEND_MAX_BYTES is written synchronously (no threadpool round trip). A segment is sealed and a new one
 * created when the next record would take it past `segmentBytes`. A failed write (ENOSPC, EIO) is
 * cut off again, so no torn record stays in the file, and every record of the batch is rejected.
 */
import { writevSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import type { Logger } from '../util/logger.js'
import { MAX_APPEND_BATCH_BYTES, SYNC_APPEND_MAX_BYTES } from './constants.js'

/** At most this many records (two buffers each) per writev, below IOV_MAX. */
const MAX_BATCH_RECORDS = 512

/** Where an appended record landed. */
export interface AppendedAt {
  segment: number
  /** Where the record starts in the segment. */
  offset: number
}

interface Pending {
  buffers: Uint8Array[]
  bytes: number
  resolve: (at: AppendedAt) => void
  reject: (err: unknown) => void
}

/** The segment being appended to, open for writing. */
export interface ActiveSegment {
  segment: number
  fh: FileHandle
  sizeBytes: number
}

/** What the appender asks of the pack store. */
export interface AppenderHooks {
  /** Creates the file of a new segment (numbered after every existing one) and returns it open for writing. */
  createSegment: () => Promise<ActiveSegment>
  /** The active segment grew to `sizeBytes`. */
  grew: (segment: number, sizeBytes: number) => void
}

/** The one writer of pack records (batched positioned writev, segment rolling). */
export class PackAppender {
  #active: ActiveSegment | undefined
  readonly #queue: Pending[] = []
  #draining: Promise<void> | undefined
  readonly #segmentBytes: number
  readonly #hooks: AppenderHooks
  readonly #log: Logger

  constructor (segmentBytes: number, hooks: AppenderHooks, log: Logger, active?: ActiveSegment) {
    this.#segmentBytes = segmentBytes
    this.#hooks = hooks
    this.#log = log
    this.#active = active
  }

  /** The segment being appended to, if one is open. */
  get activeSegment (): number | undefined { return this.#active?.segment }

  /** Appends one record (its buffers in order) and resolves with where it landed. */
  async append (buffers: Uint8Array[]): Promise<AppendedAt> {
    const bytes = buffers.reduce((n, b) => n + b.byteLength, 0)
    return await new Promise<AppendedAt>((resolve, reject) => {
      this.#queue.push({ buffers, bytes, resolve, reject })
      this.#draining ??= this.#drain()
    })
  }

  /** Waits for queued records, then closes the active segment's handle. */
  async close (): Promise<void> {
    while (this.#draining != null) await this.#draining
    const active = this.#active
    this.#active = undefined
    if (active != null) await active.fh.close()
  }

  async #drain (): Promise<void> {
    try {
      while (this.#queue.length > 0) await this.#writeBatch()
    } finally {
      // Synchronously after the last check of the queue: a record queued later starts a new drain.
      this.#draining = undefined
    }
  }

  async #writeBatch (): Promise<void> {
    let active: ActiveSegment
    try {
      active = await this.#activeFor(this.#queue[0].bytes)
    } catch (err) {
      for (const p of this.#queue.splice(0)) p.reject(err)
      return
    }
    let count = 0
    let total = 0
    while (count < this.#queue.length && count < MAX_BATCH_RECORDS) {
      const next = this.#queue[count]
      if (count > 0 && (total + next.bytes > MAX_APPEND_BATCH_BYTES || active.sizeBytes + total + next.bytes > this.#segmentBytes)) break
      count++
      total += next.bytes
    }
    const batch = this.#queue.splice(0, count)
    const start = active.sizeBytes
    try {
      const buffers = batch.flatMap(p => p.buffers)
      // Small batches (small files' fragments) skip the threadpool: see SYNC_APPEND_MAX_BYTES.
      const bytesWritten = total <= SYNC_APPEND_MAX_BYTES
        ? writevSync(active.fh.fd, buffers as NodeJS.ArrayBufferView[], start)
        : (await active.fh.writev(buffers, start)).bytesWritten
      if (bytesWritten !== total) {
        // libuv reports a write that stopped part-way (disk full) as a short count, not an error.
        throw Object.assign(new Error(`short write to pack segment ${active.segment}: ${bytesWritten} of ${total} bytes`), { code: 'ENOSPC' })
      }
    } catch (err) {
      await active.fh.truncate(start).catch(e => { this.#log.error('could not cut failed append off pack segment %d: %e', active.segment, e) })
      for (const p of batch) p.reject(err)
      return
    }
    active.sizeBytes = start + total
    this.#hooks.grew(active.segment, active.sizeBytes)
    let offset = start
    for (const p of batch) {
      p.resolve({ segment: active.segment, offset })
      offset += p.bytes
    }
  }

  async #activeFor (bytes: number): Promise<ActiveSegment> {
    const active = this.#active
    if (active != null && (active.sizeBytes === 0 || active.sizeBytes + bytes <= this.#segmentBytes)) return active
    if (active != null) {
      this.#active = undefined
      await active.fh.close()
      this.#log('sealed pack segment %d at %d bytes', active.segment, active.sizeBytes)
    }
    this.#active = await this.#hooks.createSegment()
    return this.#active
  }
}

/** Opens (creating exclusively) a segment file for appending. */
export async function createSegmentFile (path: string, segment: number): Promise<ActiveSegment> {
  return { segment, fh: await open(path, 'wx+'), sizeBytes: 0 }
}
