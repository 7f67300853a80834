/**
 * Extended-attribute rules shared by the xattr verbs: only the `user.` namespace is stored (others
 * are EOPNOTSUPP, which cp/rsync treat as "not supported here"), names up to 255 bytes (ERANGE),
 * values up to 64 KiB (E2BIG). `user.*` applies to regular files and directories only, as on Linux.
 * PALM's own names: `user.palm.policy` (validated; listed only on a directory where it was set)
 * and `user.palm.health` (computed, read-only: EPERM to set or remove). Computed values are read by
 * name and never listed, so copy tools that carry xattrs do not copy them.
 */
import { NotSupportedError, RangeTooSmallError, ValueTooBigError } from '../errors.js'
import type { Attr } from '../meta/types.js'
import type { AbortOptions } from '../util/abort.js'
import { XATTR_HEALTH, XATTR_NAME_MAX_BYTES, XATTR_SIZE_MAX_BYTES } from './constants.js'
import type { VfsCore } from './core.js'
import { forEachStripeBatch } from './ops/helpers.js'
import { partsOf } from '../meta/index.js'
import { formatHealth, weakestHealth, type StripeHealth } from '../place/index.js'

export const USER_PREFIX = 'user.'

/** Throws unless `name` is a storable xattr name (and `value`, if given, a storable value). */
export function checkXattr (name: string, value?: Uint8Array): void {
  if (Buffer.byteLength(name) > XATTR_NAME_MAX_BYTES) {
    throw new RangeTooSmallError(`extended attribute names are at most ${XATTR_NAME_MAX_BYTES} bytes; use a shorter name`)
  }
  if (!name.startsWith(USER_PREFIX) || name.length === USER_PREFIX.length) {
    throw new NotSupportedError(`extended attribute "${name.slice(0, 64)}": PALM stores only "user." attributes`)
  }
  if (value != null && value.byteLength > XATTR_SIZE_MAX_BYTES) {
    throw new ValueTooBigError(`extended attribute "${name}" is ${value.byteLength} bytes; values are at most ${XATTR_SIZE_MAX_BYTES} bytes`)
  }
}

/** True for the types that carry user.* attributes. */
export function takesUserXattrs (attr: Attr): boolean {
  return attr.type === 'file' || attr.type === 'dir'
}

/**
 * "reachable 6, needed 4, total 6; devices: a, b": the weakest stripe's reachable fragments against
 * k and n, and the devices holding reachable fragments of any stripe. A file with no stored stripe
 * reports its policy with every fragment reachable ("… total 6; devices: none").
 */
export async function healthOf (core: VfsCore, ino: number, options: AbortOptions): Promise<string> {
  const healths: StripeHealth[] = []
  await forEachStripeBatch(core, ino, async (batch) => {
    // A stripe's slices are read with it: the weakest of base and slices counts.
    healths.push(weakestHealth(await Promise.all(batch.flatMap(partsOf).map(async (s) => await core.stripes.health(s, options)))) as StripeHealth)
  }, options)
  const weakest = weakestHealth(healths)
  if (weakest == null) {
    const policy = (await core.policies.ownPolicy(ino, options).catch(() => undefined)) ?? core.policies.fallback
    return formatHealth({ reachable: policy.n, needed: policy.k, total: policy.n, devices: [] })
  }
  return formatHealth(weakest)
}
