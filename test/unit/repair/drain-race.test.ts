/**
 * A drain racing another device's move, with real parts: five real PALM nodes on loopback
 * (libp2p, memory stores), the pool's real retrieval, a real SQLite journal and the real repairer.
 *
 * Device 0 drains device 1. Its walk plans every stripe at once, then repairs them one after the
 * other within the bandwidth budget (a drain at margin ≥ 2 is lazy), so the last stripe runs
 * seconds after it was planned. Meanwhile another device moves one of its own fragments of that
 * stripe to the one device holding none (what its rebalance records: the copy, a `holders` op
 * naming the new holder, its own copy freed). A drain that picked its target from the walk's
 * snapshot put the drained fragment on that same device: two fragments of the stripe on one
 * device, the stripe below n (the dip the LAN repair test saw with rebalance on). The drain must
 * look at the stripe as it is when it repairs it.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { createChunkPool, fragmentLengthFor } from '../../../src/chunk/index.js'
import { ROOT_INO, type NodeInit, type StripeRef } from '../../../src/meta/types.js'
import { createRepairer } from '../../../src/repair/index.js'
import { trustingJournals } from '../../helpers/journals.js'
import { onCleanup } from '../../helpers/tmp.js'
import { captureLogger, createPoolRig } from '../place/pool-rig.js'

const FILE: NodeInit = { type: 'file', mode: 0o644, uid: 0, gid: 0 }
const POLICY = { k: 2, n: 4 }
const STRIPE = 8 * 1024
const FILES = 8

describe('drain racing another device\'s move', () => {
  it('places each drained fragment on a device that holds none of the stripe when it is repaired, not when it was planned', async (t) => {
    const rig = await createPoolRig(t, { devices: 5, spreader: false })
    const [meta] = await trustingJournals(t, 1, 'palm-drain-race-')
    const pool = createChunkPool({ salt: new Uint8Array(32).fill(5), workers: 1 })
    onCleanup(t, async () => { await pool.stop() })
    await pool.start()
    for (let f = 0; f < FILES; f++) {
      const placed = await rig.io.write(new Uint8Array(randomBytes(STRIPE)), POLICY, { file: `/f${f}` })
      const { ino } = await meta.create(ROOT_INO, `f${f}`, FILE)
      await meta.setContent(ino, { size: STRIPE, stripeSize: STRIPE, stripes: [{ index: 0, ...placed }] })
    }
    const drained = rig.id(1)
    const all: Array<{ ino: number, stripe: StripeRef }> = []
    for await (const s of meta.allStripes()) all.push(s)
    for (const { stripe } of all) assert.equal(new Set(stripe.holders.map(h => h[0])).size, 4, 'written on 4 distinct devices')
    // The stripe repaired last: it holds a fragment of device 1, one of a device other than 0 and
    // 1 (that device moves it), and device 0 is not the one device holding none (the move's target).
    const draining = all.filter(s => s.stripe.holders.some(h => h.includes(drained)))
    const victim = draining[draining.length - 1]
    const ids = [0, 1, 2, 3, 4].map(i => rig.id(i))
    const free = ids.find(id => !victim.stripe.holders.some(h => h.includes(id)))
    const moverIndex = victim.stripe.holders.findIndex(h => h[0] !== drained && h[0] !== rig.id(0))
    if (draining.length < 3 || free == null || free === rig.id(0) || moverIndex < 0) {
      t.skip(`placement left no usable layout this run (${draining.length} stripes on device 1; free device ${String(free)})`)
      return
    }
    const mover = ids.indexOf(victim.stripe.holders[moverIndex][0])

    // Each stripe costs k fetched + 1 stored fragments: at this budget the stripes start ~0.4 s apart.
    const fragmentBytes = fragmentLengthFor(STRIPE, POLICY.k)
    const logs: string[] = []
    const repairer = createRepairer({ graceMs: 600_000, intervalMs: 0, settleMs: 0, scrubIntervalMs: 0, bytesPerSecond: 3 * fragmentBytes / 0.4, rebalanceSlack: 0 }, {
      meta,
      stripes: rig.io,
      candidates: () => rig.io.devices.candidates(),
      describe: id => rig.io.devices.describe(id),
      membership: rig.nodes[0].node.membership,
      pool,
      fragments: rig.nodes[0].node.fragments,
      store: rig.store(0),
      deviceId: rig.id(0),
      logger: captureLogger(logs)
    })
    await repairer.start()
    onCleanup(t, async () => { await repairer.stop() })

    // Right after the drain's walk planned every stripe: the other device's move of its fragment.
    let moved: Promise<void> | undefined
    const move = async (): Promise<void> => {
      const cid = CID.parse(victim.stripe.fragments[moverIndex])
      const bytes = await rig.store(mover).get(cid)
      const [put] = await rig.nodes[0].node.fragments.putMany(free, [{ cid, bytes }])
      assert.ok(put.ok, 'the moved fragment is stored on the free device')
      await meta.setHolders(victim.ino, victim.stripe.index, victim.stripe.id, [[moverIndex, cid.toString(), [free]]])
      await rig.store(mover).delete(cid)
    }
    const started = performance.now()
    const outcome = await repairer.drain(drained, { onProgress: () => { moved ??= move() } })
    await moved
    t.diagnostic(`drained ${outcome.fragmentsMoved} fragments of ${outcome.stripesMoved} stripes in ${Math.round(performance.now() - started)} ms`)

    for await (const { ino, stripe } of meta.allStripes()) {
      const first = stripe.holders.map(h => h[0])
      assert.ok(!first.includes(drained), `inode ${ino}: nothing on the drained device`)
      assert.equal(new Set(first).size, stripe.n, `inode ${ino}: ${stripe.n} fragments on ${stripe.n} distinct devices (${first.map(d => ids.indexOf(d)).join(', ')}); log:\n${logs.join('\n')}`)
    }
  })
})
