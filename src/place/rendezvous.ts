/**
 * Weighted rendezvous (highest random weight) hashing: every device gets a score for a stripe,
 * `-weight / ln(u)` with `u` a uniform value in (0, 1) taken from SHA-256(stripe id ‖ device id).
 * Ranking devices by score gives each stripe its own device order, stable when other devices come
 * or go (only stripes that ranked the changed device move), and a device's share of first places is
 * proportional to its weight (Schindelhauer & Schomaker, "Weighted distributed hash tables", 2005).
 */
import { createHash } from 'node:crypto'

/** A device and its weight (free bytes; anything ≤ 0 counts as 1 so it still ranks, last). */
export interface Weighted {
  id: string
  weight: number
}

const TWO_POW_53 = 2 ** 53

/** The uniform value in (0, 1) of (stripe, device): the top 53 bits of a SHA-256, never 0 or 1. */
export function unitHash (stripeId: string, deviceId: string): number {
  const d = createHash('sha256').update(stripeId).update('\0').update(deviceId).digest()
  // 21 + 32 bits = 53 bits, exactly representable.
  const hi = d.readUInt32BE(0) >>> 11
  const lo = d.readUInt32BE(4)
  return (hi * 2 ** 32 + lo + 0.5) / TWO_POW_53
}

/** The device's score for the stripe: higher ranks first. */
export function score (stripeId: string, device: Weighted): number {
  return -Math.max(1, device.weight) / Math.log(unitHash(stripeId, device.id))
}

/** Devices in the stripe's rendezvous order (best first); ties (never in practice) by id. */
export function rank<T extends Weighted> (stripeId: string, devices: T[]): T[] {
  return devices
    .map(d => ({ d, s: score(stripeId, d) }))
    .sort((a, b) => b.s - a.s || (a.d.id < b.d.id ? -1 : 1))
    .map(x => x.d)
}
