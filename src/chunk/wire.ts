/**
 * Messages between the chunk pool and its workers, and the typed errors' round trip: a worker's
 * PalmError comes back to the caller as the same class with the same code and details.
 */
import {
  AbortedError, FragmentsUnavailableError, IntegrityError, InvalidArgumentError, IoError, NotSupportedError,
  PalmError, TimeoutError, type ErrorCode, type PalmErrorOptions
} from '../errors.js'
import type { EncodedStripe, Policy, RsEngine, StripeExpectation } from './types.js'

/** What a worker is started with (workerData). */
export interface WorkerInit {
  salt: Uint8Array
  engine: RsEngine
  /** Fragment format version of new stripes (ChunkPoolInit.formatVersion). */
  formatVersion: number
}

/** Serialisable form of StripeExpectation (CIDs as strings). */
export type WireExpectation = Omit<StripeExpectation, 'cids'> & { cids?: string[] }

export type WorkerRequest =
  | { id: number, op: 'encode', stripe: Uint8Array, policy: Policy }
  /**
   * `verified`: indexes of fragments the caller's process already hashed to their expected CID.
   * `into`: shared memory of expect.length bytes that receives the stripe (the reply's `stripe` is it).
   */
  | { id: number, op: 'decode', fragments: Array<{ index: number, bytes: Uint8Array }>, expect: WireExpectation, verified?: number[], into?: Uint8Array }
  /** Repair: the fragments `wanted` rebuilt from the given ones (rebuild.ts). */
  | { id: number, op: 'rebuild', fragments: Array<{ index: number, bytes: Uint8Array }>, expect: WireExpectation, wanted: number[], verified?: number[] }

/** EncodedStripe with CIDs as bytes (CID objects do not survive postMessage). */
export type WireEncoded = Omit<EncodedStripe, 'fragments'> & {
  /** Fragments in index order: CID bytes and whole fragment bytes. */
  fragments: Array<{ index: number, cid: Uint8Array, bytes: Uint8Array }>
}

export interface WireError {
  name: string
  message: string
  code?: string
  details?: Record<string, unknown>
  found?: number
  needed?: number
  peers?: string[]
  stack?: string
}

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'result', id: number, encoded?: WireEncoded, stripe?: Uint8Array, rebuilt?: WireEncoded['fragments'] }
  | { type: 'error', id: number, error: WireError }

/** An error as plain data for postMessage. */
export function errorToWire (err: unknown): WireError {
  if (err instanceof PalmError) {
    const extra = err instanceof FragmentsUnavailableError ? { found: err.found, needed: err.needed, peers: err.peers } : {}
    return { name: err.name, message: err.message, code: err.code, details: err.details, stack: err.stack, ...extra }
  }
  const e = err instanceof Error ? err : new Error(String(err))
  return { name: e.name, message: e.message, stack: e.stack }
}

type Ctor = new (message: string, options?: PalmErrorOptions) => PalmError
const CLASSES: Record<string, Ctor> = {
  AbortedError, IntegrityError, InvalidArgumentError, IoError, NotSupportedError, TimeoutError
}

/** The typed error a worker reported; anything unexpected becomes an IoError (EIO). */
export function errorFromWire (w: WireError): PalmError {
  let err: PalmError
  if (w.name === 'FragmentsUnavailableError') {
    err = new FragmentsUnavailableError(w.message, { found: w.found ?? 0, needed: w.needed ?? 0, peers: w.peers, details: w.details })
  } else if (CLASSES[w.name] != null) {
    err = new CLASSES[w.name](w.message, { details: w.details })
  } else if (w.code != null) {
    err = new PalmError(w.message, w.code as ErrorCode, { details: w.details })
    err.name = w.name
  } else {
    err = new IoError(`chunk worker failed: ${w.name}: ${w.message}`, { details: w.details })
  }
  if (w.stack != null) err.stack = `${err.stack ?? ''}\n    --- in chunk worker ---\n${w.stack}`
  return err
}
