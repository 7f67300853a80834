/**
 * A file's health as people read it (`user.palm.health`, `palm info`): the weakest stripe's
 * reachable fragments against k and n, and the devices holding reachable fragments.
 */
import type { StripeHealth } from './types.js'

/** "reachable 6, needed 4, total 6; devices: laptop, nas" ("devices: none" when no stripe is stored). */
export function formatHealth (h: StripeHealth): string {
  return `reachable ${h.reachable}, needed ${h.needed}, total ${h.total}; devices: ${h.devices.length > 0 ? h.devices.join(', ') : 'none'}`
}

/** The weakest of some stripes' healths (least spare fragments), with every device that holds any; undefined for none. */
export function weakestHealth (healths: Iterable<StripeHealth>): StripeHealth | undefined {
  let weakest: StripeHealth | undefined
  const devices = new Set<string>()
  for (const h of healths) {
    if (weakest == null || h.reachable - h.needed < weakest.reachable - weakest.needed) weakest = h
    for (const d of h.devices) devices.add(d)
  }
  return weakest == null ? undefined : { ...weakest, devices: [...devices].sort() }
}
