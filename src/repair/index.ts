/**
 * @packageDocumentation
 * The repair layer: keeps stripes as protected as the swarm allows after churn.
 *
 * - The spreader copies the shortfall of writes (fragments that doubled up on a device while their
 *   own device was missing; place's persisted spread queue) to their devices once those are back.
 * - The survey computes `palm status`'s protection numbers from the journal and the membership
 *   view, caching the journal walk.
 *
 * - The repairer rebuilds fragments of devices gone past their grace (`repairGraceMs`), of stripes
 *   down to k (at once), and of copies read-repair or scrub found bad, on live devices holding no
 *   fragment of the stripe; each repair is one `holders` op in the journal (docs/repair.md). plan.ts
 *   is its pure core: device states, who repairs a stripe (rendezvous), what a stripe needs.
 *   Rebalance moves this device's own fragments to emptier devices when a walk finds no repair:
 *   rebalance.ts plans them (pure), mover.ts copies, records and frees.
 *
 * - The re-encoder brings files to their folder's `user.palm.policy` after it changes (a walk of
 *   the folder's subtree, and a slow survey of the whole tree): the stripes this device is
 *   responsible for are read, written again at the new k/n, and swapped with one `reencode` op.
 *
 * Invariants: copies are idempotent and never delete anything; work runs in the background with
 * its own deadlines and ends at stop(); memory holds one batch (≤ 16 MiB) per device being spread,
 * the survey's layouts (bounded), and the repairer's work list (stripes needing repair, with
 * `concurrency` stripes decoded at once).
 */
import { Spreader, type SpreaderComponents, type SpreaderInit } from './spreader.js'
import { ProtectionSurvey, type ProtectionSurveyComponents, type ProtectionSurveyInit } from './survey.js'
import { Repairer, type RepairerComponents, type RepairerInit } from './repairer.js'
import { Reencoder, type ReencoderComponents, type ReencoderInit } from './reencoder.js'

export { Spreader, type SpreaderInit, type SpreaderComponents } from './spreader.js'
export { Repairer, type RepairerInit, type RepairerComponents, type RepairStatus, type RepairDevice } from './repairer.js'
export { deviceStates, responsibleFor, planStripe, pickTargets, countMargin, type DeviceState, type StripePlan, type MarginCounts } from './plan.js'
export { Reencoder, type ReencoderInit, type ReencoderComponents, type ReencodeStatus } from './reencoder.js'
export { needsReencode, stripesToReencode, storedPolicy } from './reencode-plan.js'
export { ProtectionSurvey, type ProtectionSurveyInit, type ProtectionSurveyComponents, type ProtectionNumbers } from './survey.js'

/** The background task that drains the spread queue (call `start()`). */
export function createSpreader (init: SpreaderInit, components: SpreaderComponents): Spreader {
  return new Spreader(init, components)
}

/** The cached protection survey of `palm status`. */
export function createProtectionSurvey (init: ProtectionSurveyInit, components: ProtectionSurveyComponents): ProtectionSurvey {
  return new ProtectionSurvey(init, components)
}

/** The background repairer (call `start()`); see repairer.ts. */
export function createRepairer (init: RepairerInit, components: RepairerComponents): Repairer {
  return new Repairer(init, components)
}

/** The background re-encoder after policy changes (call `start()`); see reencoder.ts. */
export function createReencoder (init: ReencoderInit, components: ReencoderComponents): Reencoder {
  return new Reencoder(init, components)
}
