/**
 * `palm drain DEVICE`: moves every fragment off a device that is still alive, so it may be wiped.
 * The device is named by id or name; this device does the work through its repairer (docs/repair.md,
 * "Drain"): the device's copies stay readable until the new holders are recorded, so no stripe
 * drops below n on the way.
 */
import { InvalidArgumentError } from '../errors.js'
import type { DaemonParts } from './daemon.js'
import type { DrainReport, ProgressFn } from './control-api.js'

/** The device `which` names (id, or a name no other device has); InvalidArgumentError naming the choices. */
function resolveDevice (parts: Pick<DaemonParts, 'net' | 'deviceId'>, selfName: string, which: string): { id: string, name: string } {
  const devices = [{ id: parts.deviceId, name: selfName }, ...(parts.net?.membership.peers() ?? []).map(p => ({ id: p.id, name: p.name }))]
  const byId = devices.find(d => d.id === which)
  if (byId != null) return byId
  const named = devices.filter(d => d.name === which)
  if (named.length === 1) return named[0]
  const known = devices.map(d => `${d.name === '' ? '(no name)' : d.name} (${d.id})`).join(', ')
  if (named.length > 1) throw new InvalidArgumentError(`${named.length} devices are named "${which}": name one by its id (${known})`)
  throw new InvalidArgumentError(`no device "${which}" in this swarm; the devices are: ${known}`)
}

export async function drainDevice (parts: Pick<DaemonParts, 'net' | 'deviceId' | 'repairer'>, selfName: string, which: string, onProgress?: ProgressFn): Promise<DrainReport> {
  if (which === '') throw new InvalidArgumentError('palm drain needs the device to empty: palm drain DEVICE (a name or id from `palm peers`)', { details: { usage: 'palm drain DEVICE' } })
  const repairer = parts.repairer
  if (repairer == null) throw new InvalidArgumentError('no daemon with the network runs for this home: start it (`palm mount` or `palm serve`), then run palm drain again')
  const device = resolveDevice(parts, selfName, which)
  const r = await repairer.drain(device.id, {
    onProgress: p => { onProgress?.({ task: 'drain', phase: `moving fragments off ${device.name}`, done: p.done, total: p.total, unit: 'stripes' }) }
  })
  return { device, stripesMoved: r.stripesMoved, fragmentsMoved: r.fragmentsMoved, durationMs: r.durationMs }
}
