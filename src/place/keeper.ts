/**
 * The small-swarm rule (docs/pool.md "Small swarms"): a stripe is never less available than it
 * would be on one device alone. Its layout either survives the loss of any one device (no device
 * holds more than n − k of its fragments), or, when the swarm is too small (or too full) for that,
 * the writing device — the *keeper* — holds k of them, so the file reads whenever the writer is up,
 * exactly as on a device alone; the other fragments still go to the other devices. Without this,
 * 4-of-6 on 2 devices put 3 fragments on each: either device offline made the other's new files
 * unreadable.
 *
 * Pure functions; placement (placement.ts), the writer's fallback (writer.ts) and repair's targets
 * (repair/plan.ts) apply them.
 */
import type { StripePolicy } from './types.js'

/** Fragment count per device of a layout (device per fragment index; undefined = not placed). */
export function loadOf (devices: Array<string | undefined>): Map<string, number> {
  const load = new Map<string, number>()
  for (const d of devices) if (d != null) load.set(d, (load.get(d) ?? 0) + 1)
  return load
}

/** True when losing any one device leaves at least k of the n fragments (counts per device). */
export function survivesOneLoss (load: ReadonlyMap<string, number>, policy: StripePolicy): boolean {
  let most = 0
  for (const c of load.values()) most = Math.max(most, c)
  return policy.n - most >= policy.k
}

/** True when the stripe reads with `keeper` alone (it holds k). */
export function keeperHoldsK (load: ReadonlyMap<string, number>, policy: StripePolicy, keeper: string): boolean {
  return (load.get(keeper) ?? 0) >= policy.k
}

/** The layout is allowed: it survives one loss, or the keeper holds k (or there is only one device). */
export function layoutOk (load: ReadonlyMap<string, number>, policy: StripePolicy, keeper: string): boolean {
  return load.size <= 1 || survivesOneLoss(load, policy) || keeperHoldsK(load, policy, keeper)
}

/**
 * Rewrites `devices` (the device storing each fragment index) so that `keeper` holds k fragments,
 * taking them one at a time from the device that holds the most (ties: the highest index), when
 * the layout would otherwise neither survive one loss nor have the keeper hold k. `keeperRoom`:
 * fragments the keeper can hold in all. Returns the indices moved (empty: nothing to do or no room).
 */
export function moveToKeeper (devices: string[], policy: StripePolicy, keeper: string, keeperRoom: number): number[] {
  const load = loadOf(devices)
  if (layoutOk(load, policy, keeper) || keeperRoom < policy.k) return []
  const moved: number[] = []
  while ((load.get(keeper) ?? 0) < policy.k) {
    let from: string | undefined
    for (const [d, c] of load) if (d !== keeper && (from == null || c > (load.get(from) ?? 0))) from = d
    if (from == null) break
    const index = devices.lastIndexOf(from)
    devices[index] = keeper
    load.set(from, (load.get(from) ?? 0) - 1)
    if (load.get(from) === 0) load.delete(from)
    load.set(keeper, (load.get(keeper) ?? 0) + 1)
    moved.push(index)
  }
  return moved
}

/**
 * A fallback choice checked against the rule: when storing one more fragment on `choice` would
 * leave a layout that neither survives one loss nor has the keeper holding k, the keeper takes it
 * instead (when it can: not excluded, room left). `load`: fragments of the stripe per device so far.
 */
export function preferKeeper (choice: string | undefined, load: ReadonlyMap<string, number>, policy: StripePolicy, keeper: string | undefined, keeperRoom: number): string | undefined {
  if (keeper == null || choice === keeper) return choice
  const keeperLoad = load.get(keeper) ?? 0
  if (keeperLoad >= keeperRoom || keeperLoad >= policy.k) return choice
  if (choice != null) {
    const after = new Map(load)
    after.set(choice, (after.get(choice) ?? 0) + 1)
    if (survivesOneLoss(after, policy)) return choice
  }
  return keeper
}

/**
 * Device losses (any of them) a layout survives: the worst case drops the devices holding the most
 * fragments first. 0 when losing some one device leaves fewer than k.
 */
export function lossesSurvivable (load: ReadonlyMap<string, number>, policy: StripePolicy): number {
  const counts = [...load.values()].sort((a, b) => b - a)
  let left = counts.reduce((s, c) => s + c, 0)
  let lost = 0
  for (const c of counts) {
    if (left - c < policy.k) break
    left -= c
    lost++
  }
  return lost
}
