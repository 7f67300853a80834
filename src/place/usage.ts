/**
 * Usable pool capacity, as `df` shows it: what placement could really store given each device's
 * room and the per-device cap per stripe (placement.ts `stripeCap`). Stripes spread evenly over the
 * devices with room, n/d fragments' worth per device each; when the smallest runs out the rest
 * carry on with fewer devices, until fewer than ⌈n / cap⌉ devices have room (the pool is then full:
 * placement refuses to put k fragments of a stripe on one device while others exist). Applications
 * get k bytes per n bytes of fragments. With equal devices this is Σ room × k/n; a device with much
 * more room than the others cannot be filled alone.
 */
import { stripeCap } from './placement.js'
import type { StripePolicy } from './types.js'

/** Bytes applications can store given each available device's room (free or total capacity) and the policy. */
export function usableBytes (rooms: number[], policy: StripePolicy): number {
  const cap = stripeCap(policy, rooms.length)
  let left = rooms.filter(r => r > 0).sort((a, b) => a - b)
  let slots = 0
  while (left.length > 0 && left.length * cap >= policy.n) {
    // Each stripe puts n/d fragment slots on each of the d devices; the smallest runs out first.
    const share = policy.n / left.length
    const x = left[0] / share
    slots += x
    left = left.map(r => r - x * share).filter(r => r > 1e-6)
  }
  return Math.floor(slots * policy.k)
}
