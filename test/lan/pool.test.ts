/**
 * The pool on a namespace LAN (root only; skipped otherwise): six real devices, one `palm mount`
 * and five `palm serve`, default 4-of-6. Files go in and come out through the mount; devices are
 * killed with SIGKILL and started again; the journal's view is checked with `palm status` and
 * `palm fsck`, a file's with `getfattr -n user.palm.health`.
 */
import '../../src/util/polyfill.js'
import { spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { palm } from '../helpers/palm.js'
import { createTempDir } from '../helpers/tmp.js'
import { createLan, lanSkipReason } from './harness.js'
import { inviteCode, joinHome, lanEnv, startPalm, statusOf, waitAllOnline } from './palm-devices.js'
import { corrupt, dropPageCache, fragmentFiles, fsckOf, kill9, mountLog, sha256Of, startSwarm, statusWhen, verifyFiles, writeRandomFile, writeSmallTree } from './pool-devices.js'

const skip = lanSkipReason()
const SIX = ['d1', 'd2', 'd3', 'd4', 'd5', 'd6']
const MiB = 1024 * 1024
const SS = 4 * MiB
/** The 200 MiB file. */
const BIG_BYTES = 200 * MiB
const SMALL_FILES = 2000

function health (path: string): string {
  const r = spawnSync('getfattr', ['-n', 'user.palm.health', '--only-values', path], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`getfattr ${path}: ${r.stderr}`)
  return r.stdout.trim()
}

async function readFails (path: string): Promise<{ code: string | undefined, ms: number }> {
  const t0 = performance.now()
  try {
    await readFile(path)
  } catch (err) {
    return { code: (err as NodeJS.ErrnoException).code, ms: performance.now() - t0 }
  }
  return { code: undefined, ms: performance.now() - t0 }
}

describe('the pool on a namespace LAN', { skip }, () => {
  it('6 devices, 4-of-6: spread, two losses, a third, writes while two are down, corruption', { timeout: 900_000 }, async (t) => {
    const lan = await createLan(t, { devices: SIX })
    const root = await createTempDir(t, 'palm-pool-lan-')
    const swarm = await startSwarm(t, lan, root, { names: SIX, env: lanEnv(`_palm-${randomBytes(4).toString('hex')}._udp.local`), initArgs: ['--policy', '4-of-6'] })
    const mnt = swarm.mount.mountpoint
    const sums = new Map<string, string>()
    const p = (name: string): string => join(mnt, name)
    const stripes = 0 + 1 + 1 + 1 + 2 + BIG_BYTES / SS + SMALL_FILES

    await t.test('a mix of files is spread: every stripe on 6 distinct devices', async () => {
      const t0 = performance.now()
      for (const [name, size] of [['empty', 0], ['one', 1], ['ss-1', SS - 1], ['ss', SS], ['ss+1', SS + 1]] as const) sums.set(p(name), await writeRandomFile(p(name), size))
      sums.set(p('big'), await writeRandomFile(p('big'), BIG_BYTES))
      const t1 = performance.now()
      await mkdir(p('tree'))
      for (const [path, sum] of await writeSmallTree(p('tree'), SMALL_FILES)) sums.set(path, sum)
      const t2 = performance.now()
      t.diagnostic(`wrote ${(BIG_BYTES + 3 * SS) / MiB} MiB in ${((t1 - t0) / 1000).toFixed(1)} s, ${SMALL_FILES} small files in ${((t2 - t1) / 1000).toFixed(1)} s`)
      // Once every stripe is counted and the journal (replicated in the background) is in sync on
      // all 6, or 60 s have passed: the assertions say what differs.
      const s = await statusWhen(swarm.mount, x => x.protectionDetail.stripesTotal === stripes && x.protectionDetail.journalCopies === 6, 60_000).catch(async () => await statusOf(swarm.mount))
      assert.equal(s.protectionDetail.stripesTotal, stripes)
      assert.equal(s.protectionDetail.stripesBelowN, 0, s.protection)
      assert.equal(s.protectionDetail.stripesReachable, stripes)
      assert.equal(s.protectionDetail.pendingSpread, 0)
      assert.equal(s.protectionDetail.deviceLossesSurvivable, 2, s.protection)
      assert.match(s.protection, /survives the loss of any 2 devices/)
      // Every fragment is where the journal says: asked of its holder over the network.
      const f = await fsckOf(swarm.mount)
      assert.equal(f.clean, true, JSON.stringify(f.problems.slice(0, 5)))
      assert.equal(f.stripesChecked, stripes)
      assert.equal(f.fragmentsChecked, 6 * stripes)
      assert.equal(health(p('big')), 'reachable 6, needed 4, total 6; devices: d1, d2, d3, d4, d5, d6')
      assert.equal(health(p('empty')), 'reachable 6, needed 4, total 6; devices: none')
    })

    await t.test('kill -9 of two serving devices: everything reads back byte-exact with the caches dropped', async () => {
      await kill9(swarm, ['d3', 'd5'])
      await swarm.restartMount()
      dropPageCache()
      const t0 = performance.now()
      assert.deepEqual(await verifyFiles(sums), [])
      t.diagnostic(`read back ${sums.size} files (${((BIG_BYTES + 3 * SS) / MiB).toFixed(0)} MiB and ${SMALL_FILES} small) with 2 devices down in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
      assert.equal(health(p('big')), 'reachable 4, needed 4, total 6; devices: d1, d2, d4, d6')
    })

    await t.test('a third loss: affected reads fail with EIO once readFailMs (5 s) has passed; ls -R, stat and cached reads work', async () => {
      await swarm.restartMount()
      dropPageCache()
      const cached = join(mnt, 'tree', 'd0', 'f1')
      assert.equal(await sha256Of(cached), sums.get(cached))
      await kill9(swarm, ['d6'])
      const uncached = join(mnt, 'tree', 'd1', 'f150')
      // Both reads at once: each waits readFailMs on its own.
      const fails = await Promise.all([uncached, p('big')].map(async path => ({ path, r: await readFails(path) })))
      for (const { path, r } of fails) {
        assert.equal(r.code, 'EIO', path)
        // d6 was seen moments ago, so it is expected back: the read waits readFailMs for it, then
        // fails (a bound, not a speed target: generous for a loaded machine).
        assert.ok(r.ms < 20_000, `${path} failed after ${r.ms} ms`)
      }
      const ls = spawnSync('ls', ['-R', mnt], { encoding: 'utf8', timeout: 30_000 })
      assert.equal(ls.status, 0, ls.stderr)
      assert.ok(ls.stdout.split('\n').filter(l => /^f\d+$/.test(l)).length === SMALL_FILES)
      assert.equal((await stat(uncached)).size, 1 + ((150 * 7919) % 4096))
      assert.equal(await sha256Of(cached), sums.get(cached), 'a cached file')
      assert.equal(await sha256Of(p('empty')), sums.get(p('empty')), 'a file with no stripes')
      // The log names the file and the missing devices.
      const log = await mountLog(swarm.mount)
      const line = log.split('\n').find(l => l.includes('/tree/d1/f150') && l.includes('cannot read'))
      assert.ok(line != null, 'no log line names the file')
      for (const d of ['d3', 'd5', 'd6']) assert.ok(line.includes(d), `the log line does not name ${d}: ${line}`)
    })

    await t.test('the devices come back: reads work again', async () => {
      await Promise.all(['d3', 'd5', 'd6'].map(async name => await swarm.restartServer(name)))
      assert.equal(await sha256Of(join(mnt, 'tree', 'd1', 'f150')), sums.get(join(mnt, 'tree', 'd1', 'f150')))
      assert.equal(await sha256Of(p('big')), sums.get(p('big')))
    })

    await t.test('writes with 2 devices down close; they read back after those return and 2 others die', async () => {
      await kill9(swarm, ['d2', 'd4'])
      await mkdir(p('outage'))
      const written = new Map<string, string>()
      for (let i = 0; i < 12; i++) {
        const path = join(p('outage'), `o${i}`)
        written.set(path, await writeRandomFile(path, i === 0 ? 20 * MiB : 1 + i * 300_000))
      }
      const newStripes = 5 + [...Array(11).keys()].reduce((s, i) => s + Math.ceil((1 + (i + 1) * 300_000) / SS), 0)
      // Durability rule: every fragment on an online device, spread over all 4 online ones.
      for (const path of written.keys()) assert.equal(health(path), 'reachable 6, needed 4, total 6; devices: d1, d3, d5, d6', path)
      const s = await statusOf(swarm.mount)
      assert.equal(s.protectionDetail.pendingSpread, 2 * newStripes, 'two fragments of each new stripe wait for the missing devices')
      const f = await fsckOf(swarm.mount)
      assert.equal(f.counts.missing + f.counts.corrupt + f.counts.unreadable, 0, JSON.stringify(f.problems.slice(0, 5)))
      await Promise.all(['d2', 'd4'].map(async name => await swarm.restartServer(name)))
      await statusWhen(swarm.mount, x => x.protectionDetail.pendingSpread === 0, 60_000)
      await kill9(swarm, ['d3', 'd6'])
      await swarm.restartMount()
      dropPageCache()
      assert.deepEqual(await verifyFiles(written), [])
      await Promise.all(['d3', 'd6'].map(async name => await swarm.restartServer(name)))
      for (const [k, v] of written) sums.set(k, v)
    })

    await t.test('corrupt fragments on a device: reads return the right bytes, the log names the device and the CID', async () => {
      const local = await fragmentFiles(swarm.homes.get('d1') ?? '')
      const remote = await fragmentFiles(swarm.homes.get('d4') ?? '')
      assert.ok(local.length >= BIG_BYTES / SS && remote.length >= BIG_BYTES / SS)
      await corrupt([...local, ...remote])
      await swarm.restartMount()
      dropPageCache()
      assert.equal(await sha256Of(p('big')), sums.get(p('big')))
      assert.equal(await sha256Of(p('ss+1')), sums.get(p('ss+1')))
      const log = await mountLog(swarm.mount)
      const cids = new Set(local.map(f => f.split('/').pop()))
      const line = log.split('\n').find(l => l.includes('corrupt on device d1'))
      assert.ok(line != null, 'no log line about a corrupt fragment on d1')
      assert.ok([...cids].some(c => c != null && line.includes(c)), `the log line names no corrupted CID: ${line}`)
    })

    for (const d of [swarm.mount, ...swarm.servers.values()]) assert.equal(d.proc.child.exitCode, null, `${d.name} exited`)
  })

  it('3 devices with 4-of-6: at most 2 fragments of a stripe each, any one can be lost, and status says so', { timeout: 300_000 }, async (t) => {
    const names = ['p1', 'p2', 'p3']
    const lan = await createLan(t, { devices: names })
    const root = await createTempDir(t, 'palm-pool-lan3-')
    // GC with no grace period: only fragments no journal references and no device placed here may go.
    const env = lanEnv(`_palm-${randomBytes(4).toString('hex')}._udp.local`, { PALM_GC_GRACE: '0s' })
    const swarm = await startSwarm(t, lan, root, { names, env, initArgs: ['--policy', '4-of-6'] })
    const sums = new Map<string, string>()
    let stripes = 0
    for (let i = 0; i < 20; i++) {
      const size = i === 0 ? 10 * MiB : 1 + i * 50_000
      sums.set(join(swarm.mount.mountpoint, `f${i}`), await writeRandomFile(join(swarm.mount.mountpoint, `f${i}`), size))
      stripes += Math.ceil(size / SS)
    }
    // Once every stripe is counted, the journal is in sync on all 3 and the others' fragment counts
    // (which come by gossip) are in, or 60 s have passed: the assertions say what differs.
    const s = await statusWhen(swarm.mount, x => x.protectionDetail.stripesTotal === stripes && x.protectionDetail.journalCopies === 3 &&
      x.fragments === 2 * stripes && x.peers.length === 2 && x.peers.every(p => p.fragmentCount === 2 * stripes), 60_000).catch(async () => await statusOf(swarm.mount))
    assert.equal(s.protectionDetail.stripesTotal, stripes)
    // Losing any one device leaves 4 fragments of every stripe: no device holds more than 2.
    assert.equal(s.protectionDetail.deviceLossesSurvivable, 1, s.protection)
    assert.match(s.protection, /survives the loss of any 1 device\b/)
    assert.equal(s.protectionDetail.stripesBelowN, stripes)
    assert.equal(s.fragments, 2 * stripes, 'the mounting device holds 2 fragments of each stripe')
    for (const peer of s.peers) assert.equal(peer.fragmentCount, 2 * stripes, `${peer.name} holds 2 fragments of each stripe`)
    // Every device keeps the whole journal, serving ones too: the mount sees no device lagging, and
    // each serving device holds as many ops as the mount.
    const synced = await statusWhen(swarm.mount, x => x.peers.length === 2 && x.peers.every(p => p.journal?.vectorKnown === true && p.journal.lagOps === 0), 60_000)
    assert.ok((synced.replication?.opsHeld ?? 0) > 20, `the mount holds ${synced.replication?.opsHeld} journal ops`)
    for (const n of ['p2', 'p3']) assert.equal((await statusOf(swarm.dev(n))).replication?.opsHeld, synced.replication?.opsHeld, `${n} holds the whole journal`)
    // Local GC never takes fragments other devices placed here.
    const gc = await palm(['gc', '--home', swarm.homes.get('p2') ?? ''])
    assert.equal(gc.code, 0, gc.stderr)
    assert.match(gc.stdout, /^deleted 0 /)
    assert.equal((await statusOf(swarm.dev('p2'))).fragments, 2 * stripes)
    // A folder's policy: new files under it are 2-of-3, one fragment on each device.
    const sub = join(swarm.mount.mountpoint, 'two-of-three')
    await mkdir(sub)
    assert.equal(spawnSync('setfattr', ['-n', 'user.palm.policy', '-v', '2-of-3', sub]).status, 0)
    sums.set(join(sub, 'g'), await writeRandomFile(join(sub, 'g'), 3 * MiB))
    assert.equal(health(join(sub, 'g')), 'reachable 3, needed 2, total 3; devices: p1, p2, p3')
    stripes += 1
    await kill9(swarm, ['p3'])
    await swarm.restartMount()
    dropPageCache()
    assert.deepEqual(await verifyFiles(sums), [])
    const after = await statusWhen(swarm.mount, x => x.protectionDetail.stripesTotal === stripes, 30_000)
    assert.equal(after.protectionDetail.deviceLossesSurvivable, 0)
    assert.match(after.protection, /losing any one more device could make some unreadable/)
  })

  it('a full pool gives ENOSPC through the mount, everything written before stays intact, and a device that joins evens usage out', { timeout: 600_000 }, async (t) => {
    const names = ['q1', 'q2', 'q3']
    // q4 joins later, by invite, once the pool is full.
    const lan = await createLan(t, { devices: [...names, 'q4'] })
    const root = await createTempDir(t, 'palm-pool-lanfull-')
    // Repair on (the other tests here keep it off): rebalance runs in its passes.
    const env = lanEnv(`_palm-${randomBytes(4).toString('hex')}._udp.local`, { PALM_REPAIR_INTERVAL: '1s' })
    const swarm = await startSwarm(t, lan, root, {
      names,
      env,
      initArgs: ['--policy', '2-of-3', '--capacity', '12M'],
      initEnv: { PALM_STRIPE_SIZE: '1M' },
      joinArgs: ['--capacity', '12M']
    })
    const mnt = swarm.mount.mountpoint
    const df = spawnSync('df', ['-B1', '--output=size,avail', mnt], { encoding: 'utf8' }).stdout.trim().split('\n')[1].trim().split(/\s+/).map(Number)
    // 3 × 12 MiB × 2/3 = 24 MiB usable (less what the stores already use).
    assert.ok(df[0] > 20 * MiB && df[0] <= 24 * MiB, `df size ${df[0]}`)
    const sums = new Map<string, string>()
    let failure: NodeJS.ErrnoException | undefined
    for (let i = 0; i < 60 && failure == null; i++) {
      const path = join(mnt, `f${i}`)
      const bytes = randomBytes(MiB)
      try {
        await writeFile(path, bytes)
        sums.set(path, createHash('sha256').update(bytes).digest('hex'))
      } catch (err) {
        failure = err as NodeJS.ErrnoException
      }
    }
    assert.equal(failure?.code, 'ENOSPC', `no ENOSPC after ${sums.size} files`)
    assert.ok(sums.size >= 15, `only ${sums.size} MiB fit`)
    await swarm.restartMount()
    dropPageCache()
    assert.deepEqual(await verifyFiles(sums), [])

    await t.test('a fourth device joins the full pool (palm invite, palm join in its namespace): usage evens out, no stripe loses protection, and there is room again', async () => {
      const stripes = (await statusOf(swarm.mount)).protectionDetail.stripesTotal
      const t0 = performance.now()
      const home = await joinHome(lan, root, 'q4', await inviteCode(swarm.mount.home), ['--capacity', '12M'])
      const q4 = await startPalm(t, lan, 'q4', home, env)
      const devices = [swarm.mount, ...swarm.servers.values(), q4]
      await waitAllOnline(devices, 60_000)
      const online = performance.now()
      // Each device's fill (used / capacity) as it reports it. Even, as rebalance promises: the
      // newcomer within the slack (5 points) plus one fragment (512 KiB of a 1 MiB stripe at
      // 2-of-3) of the mean; every other device within the slack plus two fragments (a fragment
      // moves only when it fits a sender's share whole, so a sender may stop that far above).
      const fills = async (): Promise<Array<{ name: string, fill: number }>> => await Promise.all(devices.map(async d => {
        const s = await statusOf(d)
        return { name: d.name, fill: s.usedBytes / s.capacityBytes }
      }))
      const fragment = (MiB / 2) / (12 * MiB)
      let last: Array<{ name: string, fill: number }> = []
      let even = false
      for (const until = Date.now() + 180_000; !even && Date.now() < until;) {
        last = await fills()
        const mean = last.reduce((a, b) => a + b.fill, 0) / last.length
        even = last.every(f => Math.abs(f.fill - mean) <= 0.05 + (f.name === 'q4' ? 1 : 2) * fragment)
        if (!even) await new Promise(resolve => setTimeout(resolve, 1000))
      }
      const shown = last.map(f => `${f.name} ${(f.fill * 100).toFixed(1)} %`).join(', ')
      t.diagnostic(`joined and online in ${((online - t0) / 1000).toFixed(1)} s, usage even ${((performance.now() - online) / 1000).toFixed(1)} s later: ${shown}`)
      assert.ok(even, `usage did not even out within 180 s: ${shown}`)
      // The failure-domain rule over every stripe: 3 fragments on 3 distinct online devices, each
      // where the journal says (fsck asks every holder).
      await statusWhen(swarm.mount, s => s.protectionDetail.stripesTotal === stripes && s.protectionDetail.stripesBelowN === 0, 60_000)
      const f = await fsckOf(swarm.mount)
      assert.equal(f.clean, true, JSON.stringify(f.problems?.slice(0, 5)))
      dropPageCache()
      assert.deepEqual(await verifyFiles(sums), [])
      // The space the moves freed takes a new file.
      const path = join(mnt, 'after-join')
      const bytes = randomBytes(MiB)
      await writeFile(path, bytes)
      sums.set(path, createHash('sha256').update(bytes).digest('hex'))
      dropPageCache()
      assert.deepEqual(await verifyFiles(sums), [])
    })
  })
})
