/**
 * What an op reads first when it is applied: the nodes it names and the entries (parent node,
 * name) it looks up. A merge (writer.ts) loads the records of a whole batch of ops from the
 * database in a few statements before applying them, instead of one read per op when each misses
 * in turn. Only a guess that saves reads: an op that needs more still loads it on its miss.
 */
import type { Op } from './op.js'

/** The node ids `op` resolves to inodes. */
export function nodesOf (op: Op): string[] {
  switch (op.kind) {
    case 'create': return [op.parent]
    case 'link': return [op.node, op.parent]
    case 'unlink':
    case 'rmdir': return [op.parent, op.node]
    case 'rename': return [op.parent, op.newParent, op.node]
    case 'admit':
    case 'removeDevice':
    case 'keyEpoch':
    case 'setDomain': return []
    default: return [op.node]
  }
}

/** The directory entries (parent node id, name) `op` looks up. */
export function entriesOf (op: Op): Array<[string, string]> {
  switch (op.kind) {
    case 'create':
    case 'link':
    case 'unlink':
    case 'rmdir': return [[op.parent, op.name]]
    case 'rename': return [[op.parent, op.name], [op.newParent, op.newName]]
    default: return []
  }
}
