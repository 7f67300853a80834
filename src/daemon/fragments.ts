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
 * Deletes stored fragments no file references that are older than the grace period. Fragments
 * other devices placed here are never collected (this journal does not know their files); they
 * leave only on an explicit delete from the swarm.
 */
export async function runGc (parts: DaemonParts, config: PalmConfig, options: AbortOptions = {}): Promise<{ deleted: number, freedBytes: number }> {
  const referenced = await parts.foreign.load()
  for await (const cid of parts.meta.referencedFragments(options)) referenced.add(cid)
  const report = await collectGarbage(parts.store, { referenced, graceMs: config.gcGraceMs }, options)
  return { deleted: report.deleted, freedBytes: report.deletedBytes }
}
