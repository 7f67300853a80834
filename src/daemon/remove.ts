/**
 * `palm remove DEVICE`: resolves a device id or a name that one known device has, removes it
 * with a signed journal op (removal.ts says what follows), and re-keys the swarm so that the
 * removed device's copy of the swarm key opens nothing (key-rotation.ts). A removal whose
 * re-keying did not happen (a crash between the two) is re-keyed when it is repeated.
 */
import { InvalidArgumentError, NotFoundError } from '../errors.js'
import type { DaemonParts } from './daemon.js'
import type { RemoveReport } from './control-api.js'

function resolve (parts: Pick<DaemonParts, 'net'>, device: string): { id: string, name: string } {
  const peers = parts.net?.membership.peers() ?? []
  const byId = peers.find(p => p.id === device)
  if (byId != null) return { id: byId.id, name: byId.name }
  const named = peers.filter(p => p.name === device)
  if (named.length > 1) throw new InvalidArgumentError(`${named.length} devices are named ${device} (${named.map(p => p.id).join(', ')}); give the device id`)
  if (named.length === 1) return { id: named[0].id, name: named[0].name }
  if (/^[1-9A-HJ-NP-Za-km-z]{40,60}$/.test(device)) return { id: device, name: '' }
  throw new NotFoundError(`no known device is named or has the id ${device}; \`palm peers\` lists them (give the id of a device never heard from)`)
}

export async function removeFor (parts: Pick<DaemonParts, 'net' | 'removals' | 'deviceId' | 'keys'>, device: string): Promise<RemoveReport> {
  if (device === '') throw new InvalidArgumentError('name the device to remove (its id or name, as `palm peers` shows)', { details: { usage: true } })
  const { id, name } = resolve(parts, device)
  const before = parts.removals.isRemoved(id)
  await parts.removals.remove(id, parts.deviceId)
  if (parts.keys.excludes(id)) return { id, name, removed: !before }
  const { epoch } = await parts.keys.rotate()
  return { id, name, removed: !before, keyEpoch: epoch }
}
