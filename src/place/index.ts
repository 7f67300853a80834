/**
 * @packageDocumentation
 * The place layer: between the VFS and the store and network. It turns a stripe into n fragments
 * (chunk pool), decides which device holds each (weighted rendezvous hashing on the stripe id,
 * weight = free bytes), sends them under the durability rule, and reads any k back (local store
 * first, then the fastest devices, hedged). docs/pool.md explains the choices and measurements.
 *
 * Invariants:
 * - A stripe write returns only when all n fragments are stored somewhere (acknowledged), so a
 *   closed file always has at least k; a fragment that doubled up because its device was missing
 *   is in the persisted spread queue before the write returns.
 * - No device is given k fragments of a stripe while another available device could take one; the
 *   writing device always holds one when it has room.
 * - Every fragment read is checked against its CID; a read either returns the exact stripe or
 *   fails with FragmentsUnavailableError (EIO) within `readFailMs`, naming the missing devices.
 * - Memory: stripes in flight are bounded by the VFS; the sender gathers at most 8 MiB per call.
 * - place imports chunk, store, net (through their index/types), config types, errors and util.
 */
import type { ComponentLogger } from '../util/logger.js'
import { PoolStripeIO, type PoolStripeIOComponents, type PoolStripeIOInit } from './pool.js'
import { FileSpreadQueue, type FileSpreadQueueInit } from './spread-queue.js'

export type { BadFragment, FragmentRebuilder, PlacedStripe, PoolUsage, SpreadEntry, SpreadQueue, StripeHealth, StripeIO, StripeIOOptions, StripePolicy } from './types.js'
export { PoolStripeIO, type PoolStripeIOInit, type PoolStripeIOComponents, type PoolStats } from './pool.js'
export { FileSpreadQueue, type FileSpreadQueueInit, type DrainResult } from './spread-queue.js'
export { ForeignFragments, type ForeignFragmentsInit } from './foreign.js'
export { createLocalStripeIO, DEFAULT_LOCAL_POLICY, type LocalStripeIOInit, type LocalStripeIOComponents } from './local.js'
export { devicesForOneLoss, lossesForNewStripes, planPlacement, pickFallback, roomOf, stripeCap, type Candidate } from './placement.js'
export { layoutOk, lossesSurvivable, loadOf, moveToKeeper, preferKeeper, survivesOneLoss } from './keeper.js'
export { rank } from './rendezvous.js'
export { usableBytes } from './usage.js'
export { holdersOf } from './holders.js'
export { formatHealth, weakestHealth } from './health-label.js'

/** The StripeIO of a device in a swarm: fragments spread over the online devices. */
export function createPoolStripeIO (init: PoolStripeIOInit, components: PoolStripeIOComponents): PoolStripeIO {
  return new PoolStripeIO(init, components)
}

/** The persisted spread queue in `init.dir` (call `start()` before use). */
export function createSpreadQueue (init: FileSpreadQueueInit, components: { logger: ComponentLogger }): FileSpreadQueue {
  return new FileSpreadQueue(init, components.logger.forComponent('palm:place:spread-queue'))
}
