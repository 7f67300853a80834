/**
 * `palm fsck`: checks the journal against the fragments. Every stripe of every file must have at
 * least k readable fragments (each re-hashed against its CID; fragments held by other devices are
 * asked for with a batched `has`, and an offline holder's are counted as unknown, not missing); missing and corrupt fragments,
 * unreadable stripes and journal inconsistencies are problems. Unreferenced fragments are garbage
 * awaiting collection (counted, not a problem). With `repair`, a stripe that still has k good
 * fragments gets its missing ones rebuilt: decoding and re-encoding gives the same fragments
 * (convergent encoding), so the rebuilt ones match the CIDs the journal already names.
 */
import type { ComponentLogger } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import { IntegrityError, NotFoundError } from '../errors.js'
import type { JournalProblemKind, StripeRef } from '../meta/types.js'
import type { DaemonParts } from './daemon.js'
import type { FsckProblem, FsckReport } from './control-api.js'

export interface FsckOptions {
  repair: boolean
  logger: ComponentLogger
  /** Inodes held open right now (their orphan state is expected). */
  openInodes?: Set<number>
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

async function repairStripe (parts: DaemonParts, stripe: StripeRef, good: Array<{ index: number, bytes: Uint8Array }>, bad: number[]): Promise<number> {
  const data = await parts.pool.decode(good, { k: stripe.k, n: stripe.n, length: stripe.length, codecId: stripe.codecId, cids: stripe.fragments })
  const encoded = await parts.pool.encode(data, { k: stripe.k, n: stripe.n })
  let fixed = 0
  for (const i of bad) {
    const f = encoded.fragments[i]
    if (f == null || f.cid.toString() !== stripe.fragments[i]) {
      throw new IntegrityError(`re-encoding stripe ${stripe.id} did not reproduce fragment ${i} (${stripe.fragments[i]}); the journal entry may be damaged`)
    }
    await parts.store.delete(f.cid)
    await parts.store.put(f.cid, f.bytes)
    fixed++
  }
  return fixed
}

/** Stripes whose remote fragments are asked about together. */
const REMOTE_BATCH = 256

/**
 * Whether other devices hold the fragments the stripes place on them: one batched `has` per online
 * holder. Keys are "device cid"; absent means the holder is offline or did not answer.
 */
async function remotePresence (parts: DaemonParts, stripes: StripeRef[]): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>()
  const net = parts.net
  if (net == null) return out
  const byHolder = new Map<string, Set<string>>()
  for (const s of stripes) {
    s.fragments.forEach((cid, i) => {
      const holders = s.holders[i] ?? []
      if (holders.length === 0 || holders.includes(parts.deviceId)) return
      for (const h of holders) byHolder.set(h, (byHolder.get(h) ?? new Set()).add(cid))
    })
  }
  await Promise.all([...byHolder].map(async ([holder, cids]) => {
    if (net.membership.get(holder)?.online !== true) return
    const list = [...cids]
    try {
      const present = await net.fragments.has(holder, list.map(c => CID.parse(c)), { signal: AbortSignal.timeout(30_000) })
      list.forEach((c, i) => out.set(`${holder} ${c}`, present[i]))
    } catch {}
  }))
  return out
}

export async function runFsck (parts: DaemonParts, options: FsckOptions): Promise<FsckReport> {
  const log = options.logger.forComponent('palm:daemon:fsck')
  const started = Date.now()
  const problems: FsckProblem[] = []
  let stripesChecked = 0
  let fragmentsChecked = 0
  let repaired = 0
  const pathCache = new Map<number, string | undefined>()
  const pathOf = async (ino: number): Promise<string | undefined> => {
    if (!pathCache.has(ino)) pathCache.set(ino, await parts.meta.pathOf(ino))
    return pathCache.get(ino)
  }

  const checkStripe = async (ino: number, stripe: StripeRef, remote: Map<string, boolean>): Promise<void> => {
    stripesChecked++
    const good: Array<{ index: number, bytes: Uint8Array }> = []
    const bad: number[] = []
    let elsewhere = 0
    let unknown = 0
    for (let i = 0; i < stripe.fragments.length; i++) {
      const cid = stripe.fragments[i]
      const holders = stripe.holders[i] ?? []
      if (holders.length > 0 && !holders.includes(parts.deviceId)) {
        // Held by other devices: asked over the network; an offline holder is not a problem.
        const answers = holders.map(h => remote.get(`${h} ${cid}`))
        if (answers.includes(true)) { elsewhere++; fragmentsChecked++ } else if (answers.includes(undefined)) unknown++
        else {
          fragmentsChecked++
          problems.push({ kind: 'missing', file: await pathOf(ino), ino, cid, detail: `fragment ${i} of stripe ${stripe.index} is missing on ${holders.map(h => parts.net?.membership.describe(h) ?? h).join(', ')}` })
        }
        continue
      }
      fragmentsChecked++
      const r = await checkFragment(parts, cid)
      if (r.state === 'ok' && r.bytes != null) { good.push({ index: i, bytes: r.bytes }); continue }
      bad.push(i)
      problems.push({ kind: r.state as 'missing' | 'corrupt', file: await pathOf(ino), ino, cid, detail: `fragment ${i} of stripe ${stripe.index} is ${r.state}` })
    }
    if (good.length + elsewhere + unknown < stripe.k) {
      problems.push({ kind: 'unreadable', file: await pathOf(ino), ino, detail: `stripe ${stripe.index} has ${good.length + elsewhere} good fragments (${unknown} on offline devices), needs ${stripe.k}: its bytes ${stripe.index} × stripe size onward cannot be rebuilt` })
    } else if (options.repair && bad.length > 0 && good.length >= stripe.k) {
      try {
        repaired += await repairStripe(parts, stripe, good.slice(0, stripe.k), bad)
      } catch (err) {
        log.error('could not repair stripe %d of inode %d: %e', stripe.index, ino, err)
      }
    }
  }
  let batch: Array<{ ino: number, stripe: StripeRef }> = []
  const flush = async (): Promise<void> => {
    const remote = await remotePresence(parts, batch.map(b => b.stripe))
    for (const { ino, stripe } of batch) await checkStripe(ino, stripe, remote)
    batch = []
  }
  for await (const item of parts.meta.allStripes()) {
    batch.push(item)
    if (batch.length >= REMOTE_BATCH) await flush()
  }
  await flush()

  const journal = await parts.meta.check()
  for (const p of journal.problems) {
    // An unlinked file still open is legitimate while the daemon runs (purged at the next start).
    if (p.kind === 'orphan' && options.openInodes?.has(p.ino ?? -1) === true) continue
    problems.push({ kind: JOURNAL_KIND[p.kind], ino: p.ino, file: p.ino != null ? await pathOf(p.ino) : undefined, detail: p.message })
  }

  // Garbage: fragments no file references (old versions, unclosed writes) until gc removes them.
  // Fragments other devices placed here are theirs, not garbage.
  const referenced = await parts.foreign.load()
  for await (const cid of parts.meta.referencedFragments()) referenced.add(cid)
  let garbageFragments = 0
  for await (const cid of parts.store.list()) if (!referenced.has(cid.toString())) garbageFragments++

  // A problem fixed by --repair is no longer a problem.
  const remaining = options.repair && repaired > 0 ? await recheck(parts, problems) : problems
  const counts: FsckReport['counts'] = { missing: 0, corrupt: 0, orphan: 0, dangling: 0, nlink: 0, unreadable: 0, journal: 0 }
  for (const p of remaining) counts[p.kind]++
  return {
    clean: remaining.length === 0,
    stripesChecked,
    fragmentsChecked,
    problems: remaining,
    counts,
    garbageFragments,
    repaired,
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
