/**
 * `palm get CID` and `palm gc`: one fragment by CID, and collection of unreferenced fragments.
 */
import { CID } from 'multiformats/cid'
import type { PalmConfig } from '../config/defaults.js'
import { InvalidArgumentError, NotFoundError } from '../errors.js'
import { collectGarbage } from '../store/index.js'
import type { DaemonParts } from './daemon.js'
import type { AbortOptions } from '../util/abort.js'

function parse (cid: string): CID {
  try {
    return CID.parse(cid)
  } catch (err) {
    throw new InvalidArgumentError(`"${cid}" is not a CID; fragment CIDs look like bafkrei…`, { cause: err })
  }
}

/** From this device's store, else from any connected device of the swarm that has it. */
export async function getFragment (parts: DaemonParts, text: string): Promise<Uint8Array> {
  const cid = parse(text)
  if (await parts.store.has(cid)) return await parts.store.get(cid)
  const net = parts.net
  if (net != null) {
    for (const peer of net.connectedPeers()) {
      try {
        return await net.fragments.get(peer, cid, { signal: AbortSignal.timeout(10_000) })
      } catch {}
    }
  }
  throw new NotFoundError(`fragment ${text} is not on this device${net != null ? ' nor on any connected device' : ''}`, { details: { cid: text } })
}

/**
 * Deletes stored fragments that no file of the journal references (every device holds the whole
 * replicated journal, so this covers fragments other devices placed here too) and that are older
 * than the grace period. Versions that undo records still name (a late op could bring them back)
 * are kept. Fragments other devices placed here get a longer grace (`foreignGcGraceMs`): the journal
 * ops naming them may still be on their way from a device that went offline right after its write.
 */
export async function runGc (parts: DaemonParts, config: PalmConfig, options: AbortOptions = {}): Promise<{ deleted: number, freedBytes: number }> {
  // Undo records no late op can need any more go first: the versions only they named become garbage.
  await parts.meta.compactUndo(undefined, options)
  const foreign = await parts.foreign.load()
  const referenced = new Set<string>()
  for await (const cid of parts.meta.referencedFragments(options)) referenced.add(cid)
  for await (const cid of parts.meta.heldFragments(options)) referenced.add(cid)
  const foreignCutoff = Date.now() - config.foreignGcGraceMs
  const keep = (cid: string, storedAtMs: number): boolean => storedAtMs >= foreignCutoff && foreign.has(cid)
  const report = await collectGarbage(parts.store, { referenced, keep, graceMs: config.gcGraceMs }, options)
  return { deleted: report.deleted, freedBytes: report.deletedBytes }
}
