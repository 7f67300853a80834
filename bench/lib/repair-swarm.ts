/**
 * Repair in a real swarm (bench/repair.bench.ts, when root): the six devices of the pool
 * benchmarks, each its own process in its own network namespace (one `palm mount`, five `palm
 * serve`, 4-of-6), files written through the mount, then one serving device killed with SIGKILL.
 * Its grace is short and excluded: the clock starts when the mount's repair status calls it gone,
 * and stops at the first walk of the mount's repairer that finds every stripe's n fragments
 * reachable again and nothing left to place (five devices for n = 6: one holds two fragments of
 * each stripe, as placement allows when no device is left that holds none). The five live devices
 * share the work (each repairs the stripes it is responsible for), as they would after a real loss.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlClient, type StatusReport } from '../../src/daemon/index.js'
import { Scope, startPool } from './pool.js'
import { waitUntil, writeRandomFile } from './measure.js'
import { cpuSeconds } from './workload.js'
import { fullyProtected } from '../../test/lan/pool-devices.js'

const MiB = 2 ** 20
/** The dead device's grace: excluded from the figure, short so the run does not wait long. */
const GRACE = '10s'

export interface SwarmRepairResult {
  files: number
  stripes: number
  writeSec: number
  /** From the moment the mount's status calls the dead device gone until every stripe has n fragments again. */
  timeToFullProtectionSec: number
  /** Stripe bytes restored per second (the files' bytes over the time above). */
  restoredDataMBps: number
  /** Fragments rebuilt, summed over the five live devices. */
  fragmentsRebuilt: number
  /** How many of the live devices rebuilt something. */
  repairingDevices: number
  /** CPU seconds the five live devices' processes used over that time (both cores: at most 2 per second). */
  cpuSec: number
  /** That CPU time per stripe, ms. */
  cpuMsPerStripe: number
}

/** A walk that ended after `sinceMs` (epoch) found every stripe's n fragments reachable and nothing to place. */
function allRepaired (s: StatusReport, stripes: number, sinceMs: number): boolean {
  const r = s.repair
  return s.protectionDetail.stripesTotal === stripes && r != null && r.lastWalkMs > sinceMs && r.bytesToMove === 0 &&
    r.stripesBelowN.atK + r.stripesBelowN.atK1 + r.stripesBelowN.unreadable === 0
}

/**
 * One swarm: writes `files` files of `bytes` each through the mount (big ones one after another,
 * small ones in 50 folders, eight at a time), kills a serving device and times the repair.
 */
export async function repairInSwarm (kind: 'big' | 'small', files: number, bytes: number, stripeBytes: number): Promise<SwarmRepairResult> {
  const scope = new Scope()
  const root = mkdtempSync(join(tmpdir(), 'palm-bench-repair-swarm-'))
  try {
    const { pool } = await startPool(scope, root, { durability: 'all', env: { PALM_REPAIR_INTERVAL: '1s', PALM_REPAIR_GRACE: GRACE } })
    const status = async (name: string): Promise<StatusReport> => await controlClient({ socketPath: join(pool.homes.get(name) ?? '', 'run', 'palm.sock') }).status()
    const started = performance.now()
    if (kind === 'big') {
      for (let i = 0; i < files; i++) writeRandomFile(join(pool.mnt, `big${i}`), bytes / MiB)
    } else {
      for (let d = 0; d < 50; d++) mkdirSync(join(pool.mnt, `d${d}`))
      // Eight writers at once, as `cp -r` or an unpacking tool would keep the mount busy.
      let next = 0
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (next < files) {
          const i = next++
          await writeFile(join(pool.mnt, `d${i % 50}`, `f${i}`), randomBytes(bytes))
        }
      }))
    }
    const writeSec = (performance.now() - started) / 1000
    const stripes = files * Math.ceil(bytes / stripeBytes)
    await waitUntil('the files did not reach full protection', 600_000, async () => fullyProtected(stripes, 6)(await status('b1')))
    const dead = pool.procs.get('b6')
    const deadId = (await status('b6')).device.id
    await dead?.kill('SIGKILL')
    const live = ['b1', 'b2', 'b3', 'b4', 'b5'].map(n => pool.procs.get(n)?.pid).filter((p): p is number => p != null)
    // Epoch ms, as the status's lastWalkMs.
    let goneMs = 0
    let cpuAtGone = 0
    await waitUntil('the killed device was not called gone', 120_000, async () => {
      const s = await status('b1')
      if (s.repair?.devices.some(d => d.id === deadId && d.state === 'gone') === true) { goneMs = Date.now(); cpuAtGone = cpuSeconds(live) }
      return goneMs > 0
    })
    // Done at the first walk after the work was seen (a walk that started before the device was
    // gone saw nothing to do); when the work was never seen (all done between two polls), a walk
    // ending 5 s after it was gone (a walk of these stripes takes well under that).
    let workSeenMs = 0
    await waitUntil('the stripes were not repaired', 1_800_000, async () => {
      const s = await status('b1')
      if (workSeenMs === 0 && (s.repair?.bytesToMove ?? 0) > 0) workSeenMs = Date.now()
      return allRepaired(s, stripes, workSeenMs > 0 ? workSeenMs : goneMs + 5000)
    })
    const sec = (Date.now() - goneMs) / 1000
    const cpuSec = cpuSeconds(live) - cpuAtGone
    const repaired = await Promise.all(['b1', 'b2', 'b3', 'b4', 'b5'].map(async n => (await status(n)).repair?.fragmentsRebuilt ?? 0))
    return {
      files,
      stripes,
      writeSec: Math.round(writeSec * 100) / 100,
      timeToFullProtectionSec: Math.round(sec * 100) / 100,
      restoredDataMBps: Math.round(files * bytes / MiB / sec * 100) / 100,
      fragmentsRebuilt: repaired.reduce((a, b) => a + b, 0),
      repairingDevices: repaired.filter(n => n > 0).length,
      cpuSec: Math.round(cpuSec * 100) / 100,
      cpuMsPerStripe: Math.round(cpuSec / stripes * 1e5) / 100
    }
  } finally {
    await scope.close()
    rmSync(root, { recursive: true, force: true })
  }
}
