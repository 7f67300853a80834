/**
 * Who may delete (issue 15): a peer's DELETE is carried out only for fragments this device's own
 * journal no longer references, neither by a live file nor by an undo record it keeps; a peer asking
 * is never enough. The referenced set is built once per journal state (keyed by the op count) and
 * shared by concurrent requests, so a stream of DELETEs costs one journal scan per change.
 */
import type { CID } from 'multiformats/cid'
import type { MetaStore } from '../meta/index.js'
import type { AbortOptions } from '../util/abort.js'

export function deleteGuard (meta: Pick<MetaStore, 'referencedFragments' | 'heldFragments' | 'stats'>): (cids: CID[], peer: string, options: AbortOptions) => Promise<CID[]> {
  let built: { ops: number, set: Promise<Set<string>> } | undefined
  const referenced = async (): Promise<Set<string>> => {
    const ops = meta.stats().ops
    if (built?.ops !== ops) {
      const set = (async () => {
        const s = new Set<string>()
        for await (const cid of meta.referencedFragments()) s.add(cid)
        for await (const cid of meta.heldFragments()) s.add(cid)
        return s
      })()
      built = { ops, set }
      set.catch(() => { if (built?.set === set) built = undefined })
    }
    return await built.set
  }
  return async (cids) => {
    const set = await referenced()
    return cids.filter(c => set.has(c.toString()))
  }
}
