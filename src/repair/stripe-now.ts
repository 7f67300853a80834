/**
 * A stripe as the journal has it now. Repairs and rebalance moves are planned by a walk over every
 * stripe at once and carried out later, within the budget (a drain, lazy repairs, moves): seconds,
 * while other devices may move the stripe's fragments (their rebalance, their repairs). Both look
 * again before they copy and before they record.
 */
import type { MetaStore, StripeRef } from '../meta/index.js'
import { NotFoundError } from '../errors.js'

/** Where a walk found a stripe: its file and the stripe then. */
export interface StripeAt {
  ino: number
  stripe: StripeRef
}

/** The stripe of `at` as the journal has it now, or undefined when it is gone or rewritten. */
export async function stripeNow (meta: Pick<MetaStore, 'getStripes'>, at: StripeAt, signal: AbortSignal): Promise<StripeRef | undefined> {
  try {
    const [now] = await meta.getStripes(at.ino, at.stripe.index, at.stripe.index + 1, { signal })
    return now?.index === at.stripe.index && now.id === at.stripe.id ? now : undefined
  } catch (err) {
    if (err instanceof NotFoundError) return undefined
    throw err
  }
}
