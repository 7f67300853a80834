/**
 * Join's catch-up: a device that just joined pulls the swarm's journal (the tree's names and
 * manifests) from the devices it finds. This watches it through the control API and reports it as
 * progress (ops received of ops the others hold that this one lacks) until nothing is missing,
 * no device answers within `peerWaitMs`, or the count stops moving for `stallMs`.
 */
import type { ControlApi, ProgressFn } from '../daemon/control-api.js'

export interface CatchUpResult {
  /** Ops received while watching. */
  ops: number
  /** Nothing known to be missing any more. */
  caughtUp: boolean
  /** Online devices whose journal this one compared with. */
  devices: number
  /** Ops still missing when it stopped watching (0 when caught up). */
  missing: number
}

export interface CatchUpOptions {
  onProgress: ProgressFn
  peerWaitMs?: number
  stallMs?: number
  intervalMs?: number
  signal?: AbortSignal
}

export async function watchCatchUp (api: Pick<ControlApi, 'status'>, o: CatchUpOptions): Promise<CatchUpResult> {
  const intervalMs = o.intervalMs ?? 300
  const started = Date.now()
  let base: number | undefined
  let total = 0
  let lastHeld = -1
  let lastMoveMs = Date.now()
  while (true) {
    o.signal?.throwIfAborted()
    const s = await api.status()
    const held = s.replication?.opsHeld ?? 0
    base ??= held
    if (held !== lastHeld) { lastHeld = held; lastMoveMs = Date.now() }
    const known = s.peers.filter(p => p.online && p.journal?.vectorKnown === true)
    const missing = Math.max(0, ...known.map(p => p.journal?.behindOps ?? 0))
    const done = held - base
    if (known.length > 0) {
      total = Math.max(total, done + missing)
      o.onProgress({ task: 'join', phase: 'catching up the journal', done, total, unit: 'ops' })
      if (missing === 0) return { ops: done, caughtUp: true, devices: known.length, missing: 0 }
      if (Date.now() - lastMoveMs > (o.stallMs ?? 60_000)) return { ops: done, caughtUp: false, devices: known.length, missing }
    } else if (Date.now() - started > (o.peerWaitMs ?? 30_000)) {
      return { ops: done, caughtUp: false, devices: 0, missing: 0 }
    }
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}

/** The sentence after the watch: what came, or what is still to come and where to see it. */
export function catchUpSentence (r: CatchUpResult, statusCmd: string): string {
  if (r.caughtUp) return `Caught up: received ${r.ops} journal ops; this device has the whole tree (compared with ${r.devices} ${r.devices === 1 ? 'device' : 'devices'}).`
  if (r.devices === 0) return `No device of the swarm answered yet; the journal catches up when one does (\`${statusCmd}\` shows it).`
  return `Still catching up: ${r.missing} journal ops to go after ${r.ops}; it goes on in the background (\`${statusCmd}\` shows it).`
}
