/**
 * Checks of caller input. Everything wrong here is the caller's mistake: InvalidArgumentError.
 */
import { InvalidArgumentError } from '../errors.js'
import { parseCid, type CID } from '../util/cid.js'
import { MAX_FRAGMENTS, MAX_SALT_BYTES, MAX_STRIPE_SIZE_BYTES, MIN_SALT_BYTES } from './constants.js'
import type { Policy } from './types.js'

function isByte (x: unknown): x is number {
  return Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 255
}

/** 1 ≤ k ≤ n ≤ 255, integers. */
export function checkPolicy (policy: Policy, what = 'policy'): void {
  const k: unknown = policy?.k
  const n: unknown = policy?.n
  if (!isByte(k) || !isByte(n) || k < 1 || k > n || n > MAX_FRAGMENTS) {
    throw new InvalidArgumentError(`${what} k=${String(k)}, n=${String(n)} is invalid: need whole numbers with 1 ≤ k ≤ n ≤ ${MAX_FRAGMENTS}`, { details: { k, n } })
  }
}

/** A swarm salt of MIN_SALT_BYTES … MAX_SALT_BYTES bytes. */
export function checkSalt (salt: Uint8Array): void {
  if (!(salt instanceof Uint8Array) || salt.length < MIN_SALT_BYTES || salt.length > MAX_SALT_BYTES) {
    const len = salt instanceof Uint8Array ? `${salt.length} bytes` : typeof salt
    throw new InvalidArgumentError(`the swarm salt must be ${MIN_SALT_BYTES}–${MAX_SALT_BYTES} bytes, got ${len}`)
  }
}

/** A stripe of 0 … MAX_STRIPE_SIZE_BYTES bytes. */
export function checkStripe (stripe: Uint8Array): void {
  if (!(stripe instanceof Uint8Array)) throw new InvalidArgumentError(`a stripe must be a Uint8Array, got ${typeof stripe}`)
  if (stripe.length > MAX_STRIPE_SIZE_BYTES) {
    throw new InvalidArgumentError(`a stripe of ${stripe.length} bytes exceeds the ${MAX_STRIPE_SIZE_BYTES}-byte limit; cut it into smaller stripes`)
  }
}

/** A stripe length from a manifest: whole number 0 … MAX_STRIPE_SIZE_BYTES. */
export function checkStripeLength (length: number): void {
  if (!Number.isInteger(length) || length < 0 || length > MAX_STRIPE_SIZE_BYTES) {
    throw new InvalidArgumentError(`stripe length ${String(length)} is invalid: need a whole number 0 … ${MAX_STRIPE_SIZE_BYTES}`)
  }
}

/** A codec id: whole number 1 … 255. */
export function checkCodecId (id: number): void {
  if (!isByte(id) || id === 0) throw new InvalidArgumentError(`codec id ${String(id)} is invalid: need a whole number 1 … 255`)
}

/** A CID or its string form; InvalidArgumentError when the string does not parse. */
export function toCid (cid: CID | string, what = 'CID'): CID {
  if (typeof cid !== 'string') return cid
  try {
    return parseCid(cid)
  } catch (err) {
    throw new InvalidArgumentError(`${what} "${cid}" is not a valid CID`, { cause: err })
  }
}
