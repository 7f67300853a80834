/**
 * `palm fsck`: checks the journal against the fragments. Every stripe of every file must have at
 * least k readable fragments (each re-hashed against its CID; fragments held by other devices are
 * asked for with a batched `has`). Missing and corrupt fragments, unreadable stripes and journal
 * inconsistencies are problems, and so is a file that cannot be read now because the devices that
 * hold the rest of its fragments are offline or were not asked (`unreachable`, one per file, naming
 * them). A readable stripe with some fragments on such devices is clean; those fragments are counted
 * as unverified. Unreferenced fragments are garbage awaiting collection (counted, not a problem).
 * With `repair`, a stripe with k good local fragments gets its missing or corrupt local ones
 * rebuilt from k good ones (Reed-Solomon, in the stripe's own fragment format version), each
 * checked against the CID the journal already names. The report lists what was rebuilt.
 */
import type { ComponentLogger } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import { IntegrityError, NotFoundError } from '../errors.js'
import type { JournalProblemKind, StripeRef } from '../meta/types.js'
import type { DaemonParts } from './daemon.js'
import type { FsckProblem, FsckRepair, FsckReport, ProgressFn } from './control-api.js'
import { deviceNamer, remotePresence, type RemotePresence, type Unreached } from './fsck-remote.js'

export interface FsckOptions {
  repair: boolean
  logger: ComponentLogger
  /** Inodes held open right now (their orphan state is expected). */
  openInodes?: Set<number>
  /** Told how many stripes are checked, of how many. */
  onProgress?: ProgressFn
}

const JOURNAL_KIND: Record<JournalProblemKind, FsckProblem['kind']> = {
  'dangling-entry': 'dangling',
  'entry-type': 'dangling',
  'dir-entries': 'dangling',
  'stray-stripe': 'dangling',
  nlink: 'nlink',
  'unreachable-dir': 'orphan',
  orphan: 'orphan',
  counters: 'journal',
  signature: 'journal'
}

type Check = 'ok' | 'missing' | 'corrupt'

async function checkFragment (parts: DaemonParts, cid: string): Promise<{ state: Check, bytes?: Uint8Array }> {
  try {
    return { state: 'ok', bytes: await parts.store.get(CID.parse(cid)) }
  } catch (err) {
    if (err instanceof NotFoundError) return { state: 'missing' }
    if (err instanceof IntegrityError) return { state: 'corrupt' }
    throw err
  }
}

/**
 * Rebuilds the `bad` fragments from the good ones (Reed-Solomon, in the stripe's own format
 * version: a re-encode would write the current version, whose CIDs a version-1 stripe's journal
 * entry does not name). Each rebuilt fragment is checked against its CID by the rebuild.
 */
async function repairStripe (parts: DaemonParts, stripe: StripeRef, good: Array<{ index: number, bytes: Uint8Array }>, bad: number[]): Promise<number> {
  const rebuilt = await parts.pool.rebuild(good, { k: stripe.k, n: stripe.n, length: stripe.length, codecId: stripe.codecId, cids: stripe.fragments }, bad)
  let fixed = 0
  for (const i of bad) {
    const f = rebuilt.find(r => r.index === i)
    if (f == null || f.cid.toString() !== stripe.fragments[i]) {
      throw new IntegrityError(`rebuilding stripe ${stripe.id} did not reproduce fragment ${i} (${stripe.fragments[i]}); the journal entry may be damaged`)
    }
    await parts.store.delete(f.cid)
    await parts.store.put(f.cid, f.bytes)
    fixed++
  }
  return fixed
}

/** Stripes whose remote fragments are asked about together. */
const REMOTE_BATCH = 256
/** Most repaired fragments listed by name in the report (all are counted). */
const MAX_LISTED_REPAIRS = 1000

/** Stripes of one file that cannot be read until devices come back. */
interface Waiting {
  ino: number
  stripes: number
  first: { index: number, reachable: number, k: number }
  devices: Set<string>
}

export async function runFsck (parts: DaemonParts, options: FsckOptions): Promise<FsckReport> {
  const log = options.logger.forComponent('palm:daemon:fsck')
  const started = Date.now()
  const problems: FsckProblem[] = []
  const repairs: FsckRepair[] = []
  let stripesChecked = 0
  let fragmentsChecked = 0
  let unverifiedFragments = 0
  let repaired = 0
  const unreached = new Map<string, Unreached>()
  const waiting = new Map<number, Waiting>()
  const describe = await deviceNamer(parts)
  const pathCache = new Map<number, string | undefined>()
  const pathOf = async (ino: number): Promise<string | undefined> => {
    if (!pathCache.has(ino)) pathCache.set(ino, await parts.meta.pathOf(ino))
    return pathCache.get(ino)
  }
  /** "d2 (id) and d3 (id), offline", or each with its own reason when they differ. */
  const devicesText = (ids: Iterable<string>): string => {
    const list = [...ids].map(id => ({ name: describe(id), why: unreached.get(id) ?? 'offline' })).sort((a, b) => a.name < b.name ? -1 : 1)
    if (list.every(d => d.why === list[0]?.why)) return `${list.map(d => d.name).join(' and ')}, ${list[0]?.why ?? 'offline'}`
    return list.map(d => `${d.name}, ${d.why}`).join(' and ')
  }

  const checkStripe = async (ino: number, stripe: StripeRef, remote: RemotePresence): Promise<void> => {
    stripesChecked++
    const good: Array<{ index: number, bytes: Uint8Array }> = []
    const bad: Array<{ index: number, was: 'missing' | 'corrupt' }> = []
    let elsewhere = 0
    let unknown = 0
    const away = new Set<string>()
    for (let i = 0; i < stripe.fragments.length; i++) {
      const cid = stripe.fragments[i]
      const holders = stripe.holders[i] ?? []
      if (holders.length > 0 && !holders.includes(parts.deviceId)) {
        // Held by other devices: asked over the network; one that could not be asked is unknown.
        const answers = holders.map(h => remote.present.get(`${h} ${cid}`))
        if (answers.includes(true)) { elsewhere++; fragmentsChecked++ } else if (answers.includes(undefined)) {
          unknown++
          holders.forEach((h, j) => { if (answers[j] === undefined) away.add(h) })
        } else {
          fragmentsChecked++
          problems.push({ kind: 'missing', file: await pathOf(ino), ino, cid, detail: `fragment ${i} of stripe ${stripe.index} is missing on ${holders.map(describe).join(', ')}` })
        }
        continue
      }
      fragmentsChecked++
      const r = await checkFragment(parts, cid)
      if (r.state === 'ok' && r.bytes != null) { good.push({ index: i, bytes: r.bytes }); continue }
      bad.push({ index: i, was: r.state as 'missing' | 'corrupt' })
      problems.push({ kind: r.state as 'missing' | 'corrupt', file: await pathOf(ino), ino, cid, detail: `fragment ${i} of stripe ${stripe.index} is ${r.state}` })
    }
    const reachable = good.length + elsewhere
    if (reachable + unknown < stripe.k) {
      problems.push({ kind: 'unreadable', file: await pathOf(ino), ino, detail: `stripe ${stripe.index} has ${reachable} good fragments${unknown > 0 ? ` (and ${unknown} on ${devicesText(away)})` : ''}, needs ${stripe.k}: its bytes from ${stripe.index} × stripe size on cannot be rebuilt` })
    } else if (reachable < stripe.k) {
      // Readable only once the devices that hold the rest are back: not clean.
      const w = waiting.get(ino) ?? { ino, stripes: 0, first: { index: stripe.index, reachable, k: stripe.k }, devices: new Set<string>() }
      w.stripes++
      for (const d of away) w.devices.add(d)
      waiting.set(ino, w)
    } else {
      unverifiedFragments += unknown
    }
    if (options.repair && bad.length > 0 && good.length >= stripe.k) {
      try {
        const fixed = await repairStripe(parts, stripe, good.slice(0, stripe.k), bad.map(b => b.index))
        repaired += fixed
        for (const b of bad) {
          if (repairs.length >= MAX_LISTED_REPAIRS) break
          repairs.push({ file: await pathOf(ino), ino, cid: stripe.fragments[b.index], detail: `fragment ${b.index} of stripe ${stripe.index} was ${b.was}: rebuilt from ${stripe.k} good fragments` })
        }
      } catch (err) {
        log.error('could not repair stripe %d of inode %d: %e', stripe.index, ino, err)
      }
    }
  }
  let batch: Array<{ ino: number, stripe: StripeRef }> = []
  const flush = async (): Promise<void> => {
    const remote = await remotePresence(parts, batch.map(b => b.stripe))
    for (const [id, why] of remote.unreached) unreached.set(id, why)
    for (const { ino, stripe } of batch) await checkStripe(ino, stripe, remote)
    batch = []
  }
  // A counting pass (journal reads only) gives the progress total; the check reads every fragment.
  let stripesTotal = 0
  if (options.onProgress != null) for await (const _ of parts.meta.allStripes()) stripesTotal++
  const progress = (): void => options.onProgress?.({ task: 'fsck', phase: 'checking stripes', done: stripesChecked, total: Math.max(stripesTotal, stripesChecked), unit: 'stripes' })
  for await (const item of parts.meta.allStripes()) {
    progress()
    batch.push(item)
    if (batch.length >= REMOTE_BATCH) await flush()
  }
  await flush()
  progress()

  const remedy = parts.net == null
    ? 'no daemon runs for this home, so other devices were not asked: start it (`palm serve` or `palm mount`) and run `palm fsck` again'
    : 'start those devices (`palm serve` or `palm mount` there) and run `palm fsck` again'
  for (const w of waiting.values()) {
    const f = w.first
    problems.push({
      kind: 'unreachable',
      file: await pathOf(w.ino),
      ino: w.ino,
      devices: [...w.devices],
      detail: `cannot be read now: ${w.stripes === 1 ? 'stripe' : `${w.stripes} stripes, the first`} ${f.index} has ${f.reachable} of the ${f.k} fragments it needs on reachable devices; the others are on ${devicesText(w.devices)}; ${remedy}`
    })
  }

  const journal = await parts.meta.check()
  for (const p of journal.problems) {
    // An unlinked file still open is legitimate while the daemon runs (purged at the next start).
    if (p.kind === 'orphan' && options.openInodes?.has(p.ino ?? -1) === true) continue
    problems.push({ kind: JOURNAL_KIND[p.kind], ino: p.ino, file: p.ino != null ? await pathOf(p.ino) : undefined, detail: p.message })
  }

  // Garbage: fragments no file of the replicated journal references (old versions, unclosed writes,
  // deleted files) until gc removes them. Versions undo records still name are not garbage yet.
  const referenced = new Set<string>()
  for await (const cid of parts.meta.referencedFragments()) referenced.add(cid)
  for await (const cid of parts.meta.heldFragments({ vectors: parts.journal?.peerVectors() ?? new Map() })) referenced.add(cid)
  let garbageFragments = 0
  for await (const cid of parts.store.list()) if (!referenced.has(cid.toString())) garbageFragments++

  // A problem fixed by --repair is no longer a problem.
  const remaining = options.repair && repaired > 0 ? await recheck(parts, problems) : problems
  const counts: FsckReport['counts'] = { missing: 0, corrupt: 0, orphan: 0, dangling: 0, nlink: 0, unreadable: 0, unreachable: 0, journal: 0 }
  for (const p of remaining) counts[p.kind]++
  return {
    clean: remaining.length === 0,
    stripesChecked,
    fragmentsChecked,
    problems: remaining,
    counts,
    garbageFragments,
    unverifiedFragments,
    unreachedDevices: [...unreached].map(([id, why]) => ({ id, name: describe(id), why })),
    repaired,
    repairs,
    durationMs: Date.now() - started
  }
}

async function recheck (parts: DaemonParts, problems: FsckProblem[]): Promise<FsckProblem[]> {
  const out: FsckProblem[] = []
  for (const p of problems) {
    if ((p.kind === 'missing' || p.kind === 'corrupt') && p.cid != null) {
      if ((await checkFragment(parts, p.cid)).state === 'ok') continue
    }
    out.push(p)
  }
  return out
}
