/**
 * The plain-language protection sentence of `palm status`, and its numbers.
 */
import type { ProtectionDetail } from './control-api.js'

export interface ProtectionInput {
  policy: { k: number, n: number }
  /** Devices of the swarm online now, this one included. */
  onlineDevices: number
  /** Smallest number of distinct devices holding the fragments of any stripe (Infinity with no stripes). */
  minDistinctHolders: number
  /** Fewest fragments any stripe has on online devices, minus k (how many more it can lose). */
  minSpareFragments: number
  stripesBelowN: number
  pendingSpread: number
  stripesReachable: number
  stripesTotal: number
}

export function describeProtection (p: ProtectionInput): ProtectionDetail {
  const { k, n } = p.policy
  let sentence: string
  let losses: number
  if (p.onlineDevices <= 1) {
    losses = 0
    sentence = `no redundancy against losing this device: it is alone, so all ${n} fragments of every stripe are stored here (any ${k} rebuild it, which protects against damaged fragments only). Add devices with \`palm invite\` / \`palm join\` to spread them.`
  } else if (p.stripesTotal === 0) {
    losses = Math.min(n - k, p.onlineDevices - 1)
    sentence = `${p.onlineDevices} devices online; new files will survive the loss of ${losses} device${losses === 1 ? '' : 's'} (${k}-of-${n}).`
  } else if (p.stripesReachable < p.stripesTotal) {
    losses = 0
    sentence = `${p.stripesTotal - p.stripesReachable} of ${p.stripesTotal} stripes cannot be read now: fewer than ${k} of their fragments are on online devices. Bring the missing devices back online.`
  } else {
    // A stripe survives losing d devices if the d devices holding the most of its fragments leave ≥ k.
    losses = Math.max(0, Math.min(p.minSpareFragments, p.minDistinctHolders - 1))
    sentence = losses === 0
      ? `every file is readable, but losing any one more device could make some unreadable (${p.stripesBelowN} stripes are below ${n} fragments on distinct devices${p.pendingSpread > 0 ? `, ${p.pendingSpread} fragments wait to be spread` : ''}).`
      : `every file survives the loss of any ${losses} device${losses === 1 ? '' : 's'} (${k}-of-${n} over ${p.onlineDevices} online devices${p.stripesBelowN > 0 ? `; ${p.stripesBelowN} stripes are below ${n} distinct devices` : ''}${p.pendingSpread > 0 ? `; ${p.pendingSpread} fragments wait to be spread` : ''}).`
  }
  return {
    sentence,
    deviceLossesSurvivable: losses,
    stripesBelowN: p.stripesBelowN,
    pendingSpread: p.pendingSpread,
    stripesReachable: p.stripesReachable,
    stripesTotal: p.stripesTotal
  }
}
