/**
 * The pure core of re-encoding after a policy change (reencoder.ts, docs/repair.md): which policy
 * is in force in a folder, which stripes of a file need re-encoding, who re-encodes them and what
 * it costs against the bandwidth budget.
 */
import { fragmentLengthFor } from '../chunk/index.js'
import type { StripePolicy } from '../place/index.js'
import { responsibleFor } from './plan.js'

const STORED_POLICY_RE = /^(\d{1,3})-of-(\d{1,3})$/

/**
 * A folder's `user.palm.policy` as the VFS stores it ("2-of-3", normalised when set); undefined
 * for none, or for a value no VFS would have stored (it is then ignored here, as it would be by a
 * new file's create).
 */
export function storedPolicy (raw: Uint8Array | undefined): StripePolicy | undefined {
  if (raw == null) return undefined
  const m = STORED_POLICY_RE.exec(new TextDecoder().decode(raw))
  if (m == null) return undefined
  const k = Number(m[1])
  const n = Number(m[2])
  return k >= 1 && n >= k && n <= 255 ? { k, n } : undefined
}

/** The parts of a stripe this reads (the journal's StripeRef fits). */
export interface StripeShape {
  index: number
  id: string
  k: number
  n: number
  length: number
}

/** True when the stripe is encoded at another k/n than `policy`. */
export function needsReencode (stripe: Pick<StripeShape, 'k' | 'n'>, policy: StripePolicy): boolean {
  return stripe.k !== policy.k || stripe.n !== policy.n
}

/**
 * Of a file's stripes, those at another k/n than `policy` (`all`), and those of them this device
 * re-encodes (`mine`: it is first among `online` in the stripe's rendezvous order, as for repair,
 * so two devices never re-encode one stripe while they see the same devices).
 */
export function stripesToReencode<S extends StripeShape> (stripes: S[], policy: StripePolicy, self: string, online: string[]): { all: S[], mine: S[] } {
  const all = stripes.filter(s => needsReencode(s, policy))
  return { all, mine: all.filter(s => responsibleFor(s.id, online) === self) }
}

/**
 * True when this device brings a file's own `user.palm.policy` (recorded at its create: what its
 * rewrites through the VFS use; none = the swarm's) to `policy`: it differs, and this device is
 * responsible for the file's first stored stripe (one device per file, as for stripes). A file
 * with no stripe is left alone (no device is responsible for it).
 */
export function updatesRecord (first: Pick<StripeShape, 'id'> | undefined, record: StripePolicy | undefined, swarm: StripePolicy, policy: StripePolicy, self: string, online: string[]): boolean {
  if (first == null || !needsReencode(record ?? swarm, policy)) return false
  return responsibleFor(first.id, online) === self
}

/** Bytes one re-encoding moves: k fragments fetched at the old k, n stored at the new policy. */
export function reencodeBytes (stripe: Pick<StripeShape, 'k' | 'length'>, policy: StripePolicy): number {
  return stripe.k * fragmentLengthFor(stripe.length, stripe.k) + policy.n * fragmentLengthFor(stripe.length, policy.k)
}
