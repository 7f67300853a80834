/**
 * Read-repair counted in status, with real parts: four real PALM nodes on loopback (libp2p), device
 * 0 with a real file store (fragment files on disk), the pool's real read path, a real SQLite
 * journal and the real repairer, wired to the pool as the daemon wires them (onBadFragment →
 * suspect). A fragment file of device 0 corrupted on disk is found by a read (not by scrub: scrub is
 * off), quarantined by the store, counted once in `readBadFound` and rebuilt.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import pWaitFor from 'p-wait-for'
import { CID } from 'multiformats/cid'
import { createChunkPool } from '../../../src/chunk/index.js'
import { ROOT_INO, type StripeRef } from '../../../src/meta/types.js'
import { generateSwarmKey } from '../../../src/net/index.js'
import { createPoolStripeIO, createSpreadQueue } from '../../../src/place/index.js'
import { createRepairer, type Repairer } from '../../../src/repair/index.js'
import { createFsStore } from '../../../src/store/index.js'
import { trustingJournals } from '../../helpers/journals.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'
import { createTestNode, createTestNodeOver, waitOnline } from '../net/net-helpers.js'
import { captureLogger } from '../place/pool-rig.js'

const POLICY = { k: 2, n: 4 }
const STRIPE = 64 * 1024

it('a fragment a read finds corrupt on disk is quarantined, counted in status (readBadFound) once, and rebuilt', async (t) => {
  const swarmKey = generateSwarmKey()
  const dir = await createTempDir(t, 'palm-read-repair-')
  // Every fragment in a file of its own (no packs), as fragments of 1 MiB and more are.
  const store = createFsStore({ path: join(dir, 'fragments'), capacityBytes: 1 << 30, packThresholdBytes: 0 })
  await store.start()
  onCleanup(t, async () => { await store.stop() })
  const self = await createTestNodeOver(t, store, { swarmKey, name: 'dev0' })
  const others: Array<Awaited<ReturnType<typeof createTestNode>>> = []
  for (let i = 1; i < 4; i++) {
    const other = await createTestNode(t, { swarmKey, name: `dev${i}` })
    others.push(other)
    await self.node.dial(other.node.multiaddrs()[0])
    await waitOnline(self.node, other.node)
  }
  const deviceId = self.node.peerId.toString()
  const logs: string[] = []
  const logger = captureLogger(logs)
  const pool = createChunkPool({ salt: new Uint8Array(32).fill(5), workers: 1 })
  onCleanup(t, async () => { await pool.stop() })
  await pool.start()
  const queue = createSpreadQueue({ dir: join(dir, 'spread') }, { logger })
  await queue.start()
  onCleanup(t, async () => { await queue.stop() })
  let repairer: Repairer | undefined
  const io = createPoolStripeIO({ deviceName: 'dev0', placeTimeoutMs: 3000 }, {
    pool, store, deviceId, membership: self.node.membership, fragments: self.node.fragments, queue, logger,
    onBadFragment: (s, i, d, found) => { repairer?.suspect(s, i, d, found) }
  })
  onCleanup(t, async () => { await io.stop() })
  const [meta] = await trustingJournals(t, 1, 'palm-read-repair-journal-')

  const data = new Uint8Array(randomBytes(STRIPE))
  const placed = await io.write(data, POLICY, { file: '/f' })
  const { ino } = await meta.create(ROOT_INO, 'f', { type: 'file', mode: 0o644, uid: 0, gid: 0 })
  await meta.setContent(ino, { size: STRIPE, stripeSize: STRIPE, stripes: [{ index: 0, ...placed }] })
  const [stripe] = await meta.getStripes(ino, 0, 1) as [StripeRef]
  const index = stripe.holders.findIndex(h => h.includes(deviceId))
  assert.ok(index >= 0, `device 0 holds a fragment of the stripe (holders ${JSON.stringify(stripe.holders)})`)
  const cid = CID.parse(stripe.fragments[index])

  // As the daemon builds it, with scrub off: only the read can find the bad copy.
  repairer = createRepairer({ graceMs: 600_000, intervalMs: 200, settleMs: 0, scrubIntervalMs: 0, rebalanceSlack: 0, quarantineDir: join(dir, 'fragments', 'quarantine') }, {
    meta,
    stripes: io,
    candidates: () => io.devices.candidates(),
    describe: id => io.devices.describe(id),
    membership: self.node.membership,
    fragments: self.node.fragments,
    store,
    deviceId,
    logger
  })
  await repairer.start()
  onCleanup(t, async () => { await repairer?.stop() })

  // Bit rot in device 0's fragment file.
  const where = await store.locate(cid)
  assert.ok(where != null && !where.packed, 'the fragment is a file of its own')
  const bytes = await readFile(where.path)
  bytes[bytes.length >> 1] ^= 0xff
  await writeFile(where.path, bytes)

  // The normal read path: the pool asks this device's own fragment first, finds it corrupt, goes
  // on with another. (Read again if two remote replies beat the local read: it is then not looked at.)
  const quarantined = async (): Promise<boolean> => (await readdir(join(dir, 'fragments', 'quarantine'))).some(n => n.startsWith(stripe.fragments[index]))
  for (let reads = 0; reads < 5 && !await quarantined(); reads++) {
    assert.deepEqual(await io.read(stripe, { file: '/f' }), data, 'the read returns the file\'s bytes')
  }
  assert.ok(await quarantined(), 'a read quarantined the corrupt file')
  const counted = repairer.status()
  assert.equal(counted.readBadFound, 1, 'status counts the bad fragment the read found')
  assert.equal(counted.scrubBadFound, 0, 'scrub found nothing (it did not run)')

  // Reads before the rebuild find the copy missing now: that is not counted again.
  assert.deepEqual(await io.read(stripe, { file: '/f' }), data)
  assert.equal(repairer.status().readBadFound, 1, 'counted once')

  // Read-repair rebuilds it: every named holder holds its fragment again.
  await pWaitFor(() => (repairer?.status().fragmentsRebuilt ?? 0) >= 1, { timeout: 60_000, interval: 50 })
    .catch(() => { assert.fail(`the corrupt fragment was not rebuilt in 60 s; log:\n${logs.join('\n')}`) })
  const [after] = await meta.getStripes(ino, 0, 1) as [StripeRef]
  for (const holder of after.holders[index]) {
    assert.deepEqual(await self.node.fragments.has(holder, [cid]), [true], `${io.devices.describe(holder)} holds rebuilt fragment ${index}`)
  }
  assert.equal(repairer.status().readBadFound, 1)

  // A slow disk: this device's copy of another stripe is corrupt, and its read ends only after
  // two other devices have answered (a slow first answer makes the read ask a third: a hedge; the
  // read is decided, its losers cancelled). The store quarantines the copy on the way all the
  // same: it is still counted and rebuilt.
  const data2 = new Uint8Array(randomBytes(STRIPE))
  const placed2 = await io.write(data2, POLICY, { file: '/g' })
  const g = await meta.create(ROOT_INO, 'g', { type: 'file', mode: 0o644, uid: 0, gid: 0 })
  await meta.setContent(g.ino, { size: STRIPE, stripeSize: STRIPE, stripes: [{ index: 0, ...placed2 }] })
  const [stripe2] = await meta.getStripes(g.ino, 0, 1) as [StripeRef]
  const index2 = stripe2.holders.findIndex(h => h.includes(deviceId))
  const cid2 = CID.parse(stripe2.fragments[index2])
  const where2 = await store.locate(cid2)
  assert.ok(where2 != null && !where2.packed)
  const bytes2 = await readFile(where2.path)
  bytes2[bytes2.length >> 1] ^= 0xff
  await writeFile(where2.path, bytes2)
  for (const o of others) {
    const remoteGet = o.store.get.bind(o.store)
    o.store.get = async (c, options) => {
      if (stripe2.fragments.includes(c.toString())) await new Promise(resolve => setTimeout(resolve, 100))
      return await remoteGet(c, options)
    }
  }
  const get = store.get.bind(store)
  let slowReads = 0
  store.get = async (c, options) => {
    if (!c.equals(cid2)) return await get(c, options)
    slowReads++
    await new Promise(resolve => setTimeout(resolve, 500)) // the disk, not cancellable once begun
    return await get(c)
  }
  assert.deepEqual(await io.read(stripe2, { file: '/g' }), data2, 'the read returns the bytes from the other devices')
  assert.equal(slowReads, 1, 'this device\'s own copy was asked')
  await pWaitFor(() => repairer?.status().readBadFound === 2, { timeout: 10_000, interval: 20 })
    .catch(() => { assert.fail(`a copy quarantined after its read was decided was not counted; log:\n${logs.join('\n')}`) })
  await pWaitFor(() => (repairer?.status().fragmentsRebuilt ?? 0) >= 2, { timeout: 60_000, interval: 50 })
    .catch(() => { assert.fail(`the second corrupt fragment was not rebuilt in 60 s; log:\n${logs.join('\n')}`) })
})
