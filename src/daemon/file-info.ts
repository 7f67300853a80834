/**
 * `palm info PATH` (as `juicefs info`): a file's size, policy, health and, per stripe, each
 * fragment's CID and the devices holding it (the share map), so `palm get CID` has something to take.
 */
import { partsOf } from '../meta/index.js'
import { formatPolicy } from '../config/parse.js'
import { InvalidArgumentError, NotFoundError } from '../errors.js'
import { ROOT_INO, type Attr, type StripeRef } from '../meta/types.js'
import { formatHealth, holdersOf, weakestHealth, type StripeHealth } from '../place/index.js'
import type { AbortOptions } from '../util/abort.js'
import type { FileInfo, FragmentHolder } from './control-api.js'
import type { DaemonParts } from './daemon.js'
import { peerStatus } from './status.js'

/** Stripes asked for at once. */
const STRIPE_BATCH = 256

/** The inode at `path` inside the folder ("a/b.txt" or "/a/b.txt"), walking from the root. */
async function resolvePath (parts: Pick<DaemonParts, 'meta'>, path: string, options: AbortOptions): Promise<Attr> {
  let attr = await parts.meta.getattr(ROOT_INO, options)
  const names = path.split('/').filter(n => n.length > 0 && n !== '.')
  for (const [i, name] of names.entries()) {
    if (name === '..') throw new InvalidArgumentError(`"${path}": give a path inside the PALM folder without ".."`)
    const next = attr.type === 'dir' ? await parts.meta.lookup(attr.ino, name, options) : undefined
    if (next == null) throw new NotFoundError(`no file /${names.slice(0, i + 1).join('/')} in the PALM folder; \`ls\` the mount to see what is there`, { details: { path } })
    attr = next
  }
  return attr
}

/**
 * The file's stored stripes, in order, in batches (sparse files skip their holes): each base, then
 * its slices (small overwrites) under the same index.
 */
async function * stripesOf (parts: Pick<DaemonParts, 'meta'>, attr: Attr, options: AbortOptions): AsyncGenerator<StripeRef> {
  const stripeSize = await parts.meta.stripeSizeOf(attr.ino, options)
  if (stripeSize == null || attr.type !== 'file') return
  const total = Math.ceil(attr.size / stripeSize)
  for (let from = 0; from < total; from += STRIPE_BATCH) {
    for (const s of await parts.meta.getStripes(attr.ino, from, Math.min(total, from + STRIPE_BATCH), options)) yield * partsOf(s)
  }
}

export async function fileInfo (parts: DaemonParts, deviceName: string, path: string, options: AbortOptions = {}): Promise<FileInfo> {
  const attr = await resolvePath(parts, path, options)
  const shown = '/' + path.split('/').filter(n => n.length > 0 && n !== '.').join('/')
  const peers = new Map(peerStatus(parts).map(p => [p.id, p]))
  const holder = (id: string): FragmentHolder => id === parts.deviceId
    ? { id, name: deviceName, online: true, self: true }
    : { id, name: peers.get(id)?.name ?? id, online: peers.get(id)?.online ?? false, self: false }
  const healths: StripeHealth[] = []
  const stripes: FileInfo['stripes'] = []
  let policy = parts.swarm.policy
  for await (const s of stripesOf(parts, attr, options)) {
    policy = { k: s.k, n: s.n }
    healths.push(await parts.stripes.health(s, options))
    stripes.push({
      index: s.index,
      length: s.length,
      fragments: s.fragments.map((cid, i) => ({ index: i, cid, holders: holdersOf(s, i, parts.deviceId).map(holder) }))
    })
  }
  const weakest = weakestHealth(healths) ?? { reachable: policy.n, needed: policy.k, total: policy.n, devices: [] }
  return {
    path: shown,
    type: attr.type,
    size: attr.size,
    policy: formatPolicy(policy),
    health: { ...weakest, text: formatHealth(weakest) },
    stripes
  }
}
