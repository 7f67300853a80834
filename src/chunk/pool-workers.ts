/**
 * The worker threads behind the chunk pool: start, dispatch one job per worker, collect replies,
 * replace a worker that dies (its job fails with EIO), and terminate all on stop.
 */
import { Worker } from 'node:worker_threads'
import { IoError } from '../errors.js'
import type { Logger } from '../util/logger.js'
import { errorFromWire, type WorkerInit, type WorkerReply, type WorkerRequest } from './wire.js'

/** A worker's successful reply. */
export type ResultReply = Extract<WorkerReply, { type: 'result' }>

/** One encode or decode on its way to a worker. */
export interface Job {
  request: WorkerRequest
  transfer: ArrayBuffer[]
  succeed: (reply: ResultReply) => void
  fail: (err: Error) => void
  /** True once the caller has its answer (result, error or cancellation). */
  readonly settled: boolean
}

interface Slot {
  worker: Worker
  ready: boolean
  job?: Job
}

const WORKER_URL = new URL('./worker.js', import.meta.url)

export class WorkerSlots {
  readonly #slots = new Set<Slot>()
  readonly #count: number
  readonly #init: WorkerInit
  readonly #log: Logger
  readonly #onChange: (err?: Error) => void
  #stopping = false

  /** `onChange` runs when a worker becomes idle, or with an error when no worker is left. */
  constructor (count: number, init: WorkerInit, log: Logger, onChange: (err?: Error) => void) {
    this.#count = count
    this.#init = init
    this.#log = log
    this.#onChange = onChange
  }

  /** Workers started or starting. */
  get alive (): number { return this.#slots.size }
  get ready (): number { return [...this.#slots].filter(s => s.ready).length }
  get busy (): number { return [...this.#slots].filter(s => s.job != null).length }
  get idle (): number { return [...this.#slots].filter(s => s.ready && s.job == null).length }
  hasIdle (): boolean { return this.idle > 0 }

  async start (): Promise<void> {
    const started = await Promise.allSettled(Array.from({ length: this.#count }, async () => { await this.#spawn() }))
    const failed = started.find(r => r.status === 'rejected')
    if (failed != null) {
      await this.stop(new IoError('chunk pool start failed'))
      throw failed.reason
    }
  }

  async stop (err: Error): Promise<void> {
    this.#stopping = true
    const slots = [...this.#slots]
    this.#slots.clear()
    for (const s of slots) { s.job?.fail(err); s.job = undefined }
    await Promise.all(slots.map(async s => { await s.worker.terminate() }))
  }

  /** Sends `job` to an idle worker (the caller checked hasIdle()). */
  dispatch (job: Job): void {
    const slot = [...this.#slots].find(s => s.ready && s.job == null)
    if (slot == null) throw new IoError('no idle chunk worker (dispatch called without hasIdle)')
    slot.job = job
    try {
      slot.worker.postMessage(job.request, job.transfer)
    } catch (err) {
      slot.job = undefined
      job.fail(new IoError(`could not hand the stripe to a chunk worker: ${(err as Error).message}`, { cause: err }))
      this.#onChange()
    }
  }

  async #spawn (): Promise<Slot> {
    const worker = new Worker(WORKER_URL, { workerData: this.#init })
    const slot: Slot = { worker, ready: false }
    this.#slots.add(slot)
    return await new Promise<Slot>((resolve, reject) => {
      worker.on('message', (m: WorkerReply) => {
        if (m.type === 'ready') {
          slot.ready = true
          resolve(slot)
          this.#onChange()
          return
        }
        const job = slot.job
        slot.job = undefined
        if (job != null && job.request.id === m.id) {
          if (m.type === 'error') job.fail(errorFromWire(m.error))
          else job.succeed(m)
        }
        this.#onChange()
      })
      worker.on('error', (err) => {
        this.#log.error('chunk worker %d failed: %e', worker.threadId, err)
        const wrapped = new IoError(`a chunk worker failed: ${err.message}`, { cause: err })
        slot.job?.fail(wrapped)
        slot.job = undefined
        if (!slot.ready) reject(wrapped)
      })
      worker.on('exit', (code) => {
        const wasReady = slot.ready
        slot.ready = false
        if (!this.#slots.delete(slot) || this.#stopping) return
        this.#log.error('chunk worker exited with code %d; starting a replacement', code)
        slot.job?.fail(new IoError(`a chunk worker exited (code ${code}) while working on a stripe; retry`))
        slot.job = undefined
        if (!wasReady) { reject(new IoError(`a chunk worker exited (code ${code}) before it was ready`)); return }
        this.#spawn().catch((err: Error) => {
          this.#log.error('could not replace a chunk worker: %e', err)
          if (this.#slots.size === 0) this.#onChange(err)
        })
      })
    })
  }
}
