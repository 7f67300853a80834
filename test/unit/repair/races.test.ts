/**
 * Repairs and moves racing other devices' changes of the same stripe, with real parts: five real
 * PALM nodes on loopback (libp2p, memory stores), the pool's real retrieval, a real SQLite journal
 * and the real repairer. The other device's change is what its rebalance or repair records: a real
 * copy, a `holders` op naming the new holder, its own copy freed.
 *
 * - A drain (device 0 drains device 1) plans every stripe at once, then repairs them one after the
 *   other within the bandwidth budget (a drain at margin ≥ 2 is lazy), so the last stripe runs
 *   seconds after it was planned. Meanwhile another device moves one of its own fragments of that
 *   stripe to the one device holding none. A drain that picked its target from the walk's snapshot
 *   put the drained fragment on that same device: two fragments of the stripe on one device, the
 *   stripe below n (the dip the LAN repair test saw with rebalance on).
 * - A rebalance move (device 0 moves its own fragment to an emptier device) crossed by another
 *   device's record that put another fragment of the stripe on the same device, arriving after the
 *   mover's last look: the mover must keep its copy (listed) rather than leave two fragments of
 *   the stripe on one device and none on its own.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it, type TestContext } from 'node:test'
import pWaitFor from 'p-wait-for'
import { CID } from 'multiformats/cid'
import { fragmentLengthFor } from '../../../src/chunk/index.js'
import { ROOT_INO, type MetaStore, type NodeInit, type StripeRef } from '../../../src/meta/types.js'
import { createRepairer, type RepairerComponents, type RepairerInit } from '../../../src/repair/index.js'
import { matchDistinct } from '../../../src/repair/plan.js'
import { trustingJournals } from '../../helpers/journals.js'
import { onCleanup } from '../../helpers/tmp.js'
import { captureLogger, createPoolRig, type PoolRig } from '../place/pool-rig.js'

const FILE: NodeInit = { type: 'file', mode: 0o644, uid: 0, gid: 0 }
const POLICY = { k: 2, n: 4 }
const STRIPE = 8 * 1024
const MiB = 1024 * 1024

interface Swarm {
  rig: PoolRig
  meta: MetaStore
  /** Device ids by rig index. */
  ids: string[]
  stripes: () => Promise<Array<{ ino: number, stripe: StripeRef }>>
  /** Device 0's real repairer over the journal; its log lines go to `logs`. */
  repairer: (init: RepairerInit, logs: string[], extra?: Partial<RepairerComponents>) => Promise<ReturnType<typeof createRepairer>>
  /** What another device records when it moves fragment `index` of `s` from `from` to `to`: a copy, the holders op, its copy freed. */
  moveElsewhere: (s: { ino: number, stripe: StripeRef }, index: number, from: number, to: string) => Promise<void>
}

/** Five devices, `files` one-stripe files at 2-of-4 written by device 0, one journal. */
async function swarmOf (t: TestContext, files: number): Promise<Swarm> {
  const rig = await createPoolRig(t, { devices: 5, spreader: false })
  const [meta] = await trustingJournals(t, 1, 'palm-repair-races-')
  for (let f = 0; f < files; f++) {
    const placed = await rig.io.write(new Uint8Array(randomBytes(STRIPE)), POLICY, { file: `/f${f}` })
    const { ino } = await meta.create(ROOT_INO, `f${f}`, FILE)
    await meta.setContent(ino, { size: STRIPE, stripeSize: STRIPE, stripes: [{ index: 0, ...placed }] })
  }
  const stripes = async (): Promise<Array<{ ino: number, stripe: StripeRef }>> => {
    const all = []
    for await (const s of meta.allStripes()) all.push(s)
    return all
  }
  for (const { stripe } of await stripes()) assert.equal(new Set(stripe.holders.map(h => h[0])).size, 4, 'written on 4 distinct devices')
  return {
    rig,
    meta,
    ids: [0, 1, 2, 3, 4].map(i => rig.id(i)),
    stripes,
    repairer: async (init, logs, extra = {}) => {
      const repairer = createRepairer(init, {
        meta,
        stripes: rig.io,
        candidates: () => rig.io.devices.candidates(),
        describe: id => rig.io.devices.describe(id),
        membership: rig.nodes[0].node.membership,
        fragments: rig.nodes[0].node.fragments,
        store: rig.store(0),
        deviceId: rig.id(0),
        logger: captureLogger(logs),
        ...extra
      })
      await repairer.start()
      onCleanup(t, async () => { await repairer.stop() })
      return repairer
    },
    moveElsewhere: async ({ ino, stripe }, index, from, to) => {
      const cid = CID.parse(stripe.fragments[index])
      const bytes = await rig.store(from).get(cid)
      const [put] = await rig.nodes[0].node.fragments.putMany(to, [{ cid, bytes }])
      assert.ok(put.ok, 'the moved fragment is stored on its new device')
      await meta.setHolders(ino, stripe.index, stripe.id, [[index, cid.toString(), [to]]])
      await rig.store(from).delete(cid)
    }
  }
}

/** Every stripe has n fragments on n distinct devices (the survey's matching), each named holder holding its fragment. */
async function assertProtected (s: Swarm, logs: string[]): Promise<void> {
  for (const { ino, stripe } of await s.stripes()) {
    assert.equal(matchDistinct(stripe.holders.map((devices, index) => ({ index, devices }))), stripe.n,
      `inode ${ino}: ${stripe.n} fragments on ${stripe.n} distinct devices (holders ${JSON.stringify(stripe.holders.map(h => h.map(d => s.ids.indexOf(d))))}); log:\n${logs.join('\n')}`)
    for (const [i, holders] of stripe.holders.entries()) {
      for (const d of holders) assert.ok(await s.rig.store(s.ids.indexOf(d)).has(CID.parse(stripe.fragments[i])), `inode ${ino}: device ${s.ids.indexOf(d)} holds fragment ${i} as the journal says`)
    }
  }
}

describe('repair racing another device\'s change of the same stripe', () => {
  it('places each drained fragment on a device that holds none of the stripe when it is repaired, not when it was planned', async (t) => {
    const s = await swarmOf(t, 8)
    const drained = s.ids[1]
    // The stripe repaired last: it holds a fragment of device 1, one of a device other than 0 and
    // 1 (that device moves it), and device 0 is not the one device holding none (the move's target).
    const draining = (await s.stripes()).filter(x => x.stripe.holders.some(h => h.includes(drained)))
    const victim = draining[draining.length - 1]
    const free = s.ids.find(id => !victim.stripe.holders.some(h => h.includes(id)))
    const moverIndex = victim.stripe.holders.findIndex(h => h[0] !== drained && h[0] !== s.ids[0])
    if (draining.length < 3 || free == null || free === s.ids[0] || moverIndex < 0) {
      t.skip(`placement left no usable layout this run (${draining.length} stripes on device 1; free device ${String(free)})`)
      return
    }
    // Each stripe costs k fetched + 1 stored fragments: at this budget the stripes start ~0.4 s apart.
    const logs: string[] = []
    const repairer = await s.repairer({ graceMs: 600_000, intervalMs: 0, settleMs: 0, scrubIntervalMs: 0, bytesPerSecond: 3 * fragmentLengthFor(STRIPE, POLICY.k) / 0.4, rebalanceSlack: 0 }, logs)
    // Right after the drain's walk planned every stripe: the other device's move of its fragment.
    let moved: Promise<void> | undefined
    const started = performance.now()
    const outcome = await repairer.drain(drained, { onProgress: () => { moved ??= s.moveElsewhere(victim, moverIndex, s.ids.indexOf(victim.stripe.holders[moverIndex][0]), free) } })
    await moved
    t.diagnostic(`drained ${outcome.fragmentsMoved} fragments of ${outcome.stripesMoved} stripes in ${Math.round(performance.now() - started)} ms`)
    for (const { stripe } of await s.stripes()) assert.ok(!stripe.holders.some(h => h.includes(drained)), 'nothing on the drained device')
    await assertProtected(s, logs)
  })

  it('a rebalance move crossed by another device\'s record onto the same device keeps the mover\'s copy', async (t) => {
    const s = await swarmOf(t, 32)
    const before = new Set((await s.stripes()).flatMap(x => x.stripe.fragments.filter((_, i) => x.stripe.holders[i].includes(s.ids[0]))))
    const logs: string[] = []
    // Device 0 is far fuller than the others: it moves its own fragments to devices holding none of the stripe.
    const figures = (): Array<{ id: string, usedBytes: number, capacityBytes: number, freeBytes: number }> =>
      s.ids.map((id, i) => ({ id, usedBytes: (i === 0 ? 90 : 10) * MiB, capacityBytes: 100 * MiB, freeBytes: (i === 0 ? 10 : 90) * MiB }))
    // The first move device 0 records is crossed: right after its record, another device's op puts
    // another fragment of the same stripe on the same new holder (it could not see the move yet).
    let crossed: { ino: number, to: string } | undefined
    let first = true
    const meta = s.meta
    const crossing: Pick<MetaStore, 'setHolders'> = {
      setHolders: async (ino, index, stripeId, set, options) => {
        // Moves are recorded 4 at a time: only the first is crossed.
        const mine = first
        first = false
        const recorded = await meta.setHolders(ino, index, stripeId, set, options)
        if (!mine) return recorded
        const x = (await s.stripes()).find(y => y.ino === ino)
        if (x == null) return recorded
        const to = set[0][2][0]
        const other = x.stripe.holders.findIndex((h, i) => !set.some(e => e[0] === i) && !h.includes(to) && !h.includes(s.ids[0]))
        if (other < 0) return recorded
        crossed = { ino, to }
        await s.moveElsewhere(x, other, s.ids.indexOf(x.stripe.holders[other][0]), to)
        return recorded
      }
    }
    const repairer = await s.repairer({ graceMs: 600_000, intervalMs: 200, settleMs: 0, scrubIntervalMs: 0, rebalanceSlack: 0.05 }, logs, {
      figures,
      // One journal, no peer: no late op can need an undo record, so moved copies are freed at once.
      peerVectors: () => new Map(),
      meta: { allStripes: meta.allStripes.bind(meta), getStripes: meta.getStripes.bind(meta), stats: meta.stats.bind(meta), heldFragments: meta.heldFragments.bind(meta), setHolders: crossing.setHolders }
    })
    // Done once a walk moved a fragment besides the crossed one and freed the copies (its log line
    // comes last; walks are 10 s apart after moves, and a loaded machine may need several).
    await pWaitFor(() => crossed != null && logs.some(l => /rebalance moved [1-9]/.test(l)), { timeout: 90_000, interval: 50 }).catch(() => { assert.fail(`no move went through in 90 s (crossed: ${String(crossed != null)}); log:\n${logs.join('\n')}`) })
    await repairer.stop()
    assert.ok(crossed != null, `a move was crossed; log:\n${logs.join('\n')}`)
    t.diagnostic(`${repairer.status().fragmentsMoved} fragments moved off device 0; ${logs.filter(l => l.includes('rebalance')).join('; ')}`)
    const kept = (await s.stripes()).find(x => x.ino === crossed?.ino)
    assert.ok(kept?.stripe.holders.some(h => h.includes(s.ids[0])), `the crossed move left device 0's copy listed; log:\n${logs.join('\n')}`)
    await assertProtected(s, logs)
    // Moved copies are freed here (the move's own undo record does not keep them).
    const named = new Set((await s.stripes()).flatMap(x => x.stripe.fragments.filter((_, i) => x.stripe.holders[i].includes(s.ids[0]))))
    const movedAway = [...before].filter(cid => !named.has(cid))
    assert.ok(movedAway.length > 0, 'device 0 moved fragments away')
    for (const cid of movedAway) assert.equal(await s.rig.store(0).has(CID.parse(cid)), false, `device 0 freed its copy of ${cid}`)
  })
})
