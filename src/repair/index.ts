/**
 * @packageDocumentation
 * The repair layer: keeps stripes as protected as the swarm allows after churn.
 *
 * - The spreader copies the shortfall of writes (fragments that doubled up on a device while their
 *   own device was missing; place's persisted spread queue) to their devices once those are back.
 * - The survey computes `palm status`'s protection numbers from the journal and the membership
 *   view, caching the journal walk.
 *
 * Invariants: copies are idempotent and never delete anything; work runs in the background with
 * its own deadlines and ends at stop(); memory holds one batch (≤ 16 MiB) per device being spread
 * and the survey's layouts (bounded). Rebuilding fragments of devices gone for longer than the
 * grace period is a later issue.
 */
import { Spreader, type SpreaderComponents, type SpreaderInit } from './spreader.js'
import { ProtectionSurvey, type ProtectionSurveyComponents, type ProtectionSurveyInit } from './survey.js'

export { Spreader, type SpreaderInit, type SpreaderComponents } from './spreader.js'
export { ProtectionSurvey, type ProtectionSurveyInit, type ProtectionSurveyComponents, type ProtectionNumbers } from './survey.js'

/** The background task that drains the spread queue (call `start()`). */
export function createSpreader (init: SpreaderInit, components: SpreaderComponents): Spreader {
  return new Spreader(init, components)
}

/** The cached protection survey of `palm status`. */
export function createProtectionSurvey (init: ProtectionSurveyInit, components: ProtectionSurveyComponents): ProtectionSurvey {
  return new ProtectionSurvey(init, components)
}
