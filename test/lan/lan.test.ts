/**
 * Multi-device LAN tests: real processes in network namespaces (root only; skipped otherwise).
 * One LAN for the whole file: six devices on one bridge, one device with another swarm key on the
 * same bridge, and one device on a second, routed subnet that joins by invite code.
 */
import '../../src/util/polyfill.js'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatSwarmKey, generateSwarmKey } from '../../src/net/index.js'
import { createTempDir } from '../helpers/tmp.js'
import { createLan, lanSkipReason, startDevice, type DeviceProcess, type Lan } from './harness.js'
import { deviceCommand, onlinePeers, readyId, request, waitAllOnline } from './lan-helpers.js'

const skip = lanSkipReason()
const SIX = ['d1', 'd2', 'd3', 'd4', 'd5', 'd6']
/** Bound for "all online" (the measured time is printed as a diagnostic). */
const DISCOVERY_BOUND_MS = 30_000

describe('PALM devices on a namespace LAN', { skip }, () => {
  it('discover, gossip, refuse outsiders, move fragments, survive kill -9 and junk', { timeout: 240_000 }, async (t) => {
    const lan: Lan = await createLan(t, { devices: [...SIX, 'rogue'], routed: ['far'] })
    const root = await createTempDir(t, 'palm-lan-')
    const tag = `_palm-${randomBytes(4).toString('hex')}._udp.local`
    const keyText = formatSwarmKey(generateSwarmKey())
    const homes = new Map<string, string>()
    for (const name of [...SIX, 'rogue', 'far']) {
      const home = join(root, name)
      await mkdir(home, { recursive: true })
      homes.set(name, home)
    }
    for (const name of SIX) await writeFile(join(homes.get(name) ?? '', 'swarm.key'), keyText, { mode: 0o600 })
    const start = async (name: string, invite?: string): Promise<DeviceProcess> =>
      await startDevice(t, lan.device(name), deviceCommand({ home: homes.get(name) ?? '', name, tag, invite }), {
        logFile: process.env.PALM_LAN_LOG_DIR != null ? join(process.env.PALM_LAN_LOG_DIR, `${name}.log`) : undefined
      })

    const devs = new Map<string, DeviceProcess>()
    const ids = new Map<string, string>()

    await t.test('6 devices that share only the swarm key find each other by mDNS', async () => {
      const t0 = performance.now()
      const started = await Promise.all(SIX.map(async n => await start(n)))
      const readyMs = performance.now() - t0
      started.forEach(d => { devs.set(d.name, d); ids.set(d.name, readyId(d)) })
      const onlineMs = await waitAllOnline(started, [...ids.values()], DISCOVERY_BOUND_MS)
      t.diagnostic(`6 processes READY after ${(readyMs / 1000).toFixed(2)} s; all 30 peer views online ${(onlineMs / 1000).toFixed(2)} s later (${((readyMs + onlineMs) / 1000).toFixed(2)} s from spawn)`)
    })

    const dev = (name: string): DeviceProcess => {
      const d = devs.get(name)
      if (d == null) throw new Error(`${name} is not running`)
      return d
    }

    await t.test('a device with another swarm key is never seen and sees no one', async () => {
      const rogue = await start('rogue')
      const rogueId = readyId(rogue)
      // it is found by mDNS and dialled (and dials), and every attempt is refused
      for (;;) {
        const refused = await Promise.all([rogue, dev('d1'), dev('d2')].map(async d => (await request(d, 'status')).stats.refusedConnections as number))
        if (refused[0] > 0 && refused[1] + refused[2] > 0) break
        await new Promise(resolve => setTimeout(resolve, 200))
      }
      for (const name of SIX) {
        const status = await request(dev(name), 'status')
        assert.ok(!status.peers.some((p: { id: string }) => p.id === rogueId), `${name} lists the rogue device`)
        assert.ok(!status.connected.includes(rogueId), `${name} is connected to the rogue device`)
      }
      const rogueStatus = await request(rogue, 'status')
      assert.deepEqual(rogueStatus.peers, [])
      assert.deepEqual(rogueStatus.connected, [])
      await assert.rejects(request(rogue, 'get', { peer: ids.get('d1'), cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' }))
      await rogue.kill('SIGTERM')
    })

    await t.test('fragments put and got between devices are byte-exact', async () => {
      for (const size of [4096, 1024 * 1024 + 17]) {
        const put = await request(dev('d1'), 'put', { peer: ids.get('d2'), size, seed: `s${size}` })
        const got = await request(dev('d3'), 'get', { peer: ids.get('d2'), cid: put.cid })
        assert.equal(got.size, size)
        assert.equal(got.sha256, put.sha256)
      }
      await assert.rejects(request(dev('d4'), 'get', { peer: ids.get('d5'), cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' }), /NotFoundError/)
    })

    await t.test('a device on another subnet joins by invite and is found through the DHT / invite addresses', async () => {
      const invite = await request<string>(dev('d1'), 'invite')
      const far = await start('far', invite)
      devs.set('far', far)
      ids.set('far', readyId(far))
      const ms = await waitAllOnline([...SIX.map(dev), far], [...ids.values()], 45_000)
      t.diagnostic(`device on the routed subnet: all 7 devices online in each other's view ${(ms / 1000).toFixed(2)} s after READY`)
      const farView = await request(far, 'status')
      assert.ok(farView.peers.every((p: { addrs: string[] }) => p.addrs.every(a => !a.includes('/127.0.0.1/'))), 'loopback addresses were announced on the LAN')
    })

    await t.test('kill -9 of a device is noticed as offline, and its restart as online again', async () => {
      const victim = dev('d6')
      const victimId = ids.get('d6') ?? ''
      const t0 = performance.now()
      await victim.kill('SIGKILL')
      const watchers = ['d1', 'd2', 'far'].map(dev)
      await Promise.all(watchers.map(async w => { await w.waitForLine(l => l.includes('"offline"') && l.includes(victimId), 20_000) }))
      t.diagnostic(`kill -9 noticed as offline by 3 peers within ${((performance.now() - t0) / 1000).toFixed(2)} s`)
      for (const w of watchers) assert.ok(!(await onlinePeers(w)).includes(victimId))
      const t1 = performance.now()
      const again = await start('d6')
      devs.set('d6', again)
      assert.equal(readyId(again), victimId, 'the restarted device kept its peer key')
      const ms = await waitAllOnline([...watchers, again], [...ids.values()].filter(id => [victimId, ...watchers.map(readyId)].includes(id)), 30_000)
      t.diagnostic(`restart seen online again ${((performance.now() - t1) / 1000).toFixed(2)} s after spawn (${(ms / 1000).toFixed(2)} s after READY)`)
    })

    await t.test('a frozen device (SIGSTOP, connections stay open) goes offline by timeout and back online on SIGCONT', async () => {
      const frozen = dev('d5')
      const frozenId = ids.get('d5') ?? ''
      const watcher = dev('d1')
      const seen = watcher.lines.length
      const t0 = performance.now()
      process.kill(frozen.pid, 'SIGSTOP')
      try {
        await watcher.waitForLine(l => watcher.lines.indexOf(l) >= seen && l.includes('"offline"') && l.includes(frozenId), 20_000)
        t.diagnostic(`frozen device seen offline after ${((performance.now() - t0) / 1000).toFixed(2)} s (offlineAfterMs 2500)`)
      } finally {
        process.kill(frozen.pid, 'SIGCONT')
      }
      await watcher.waitForLine(l => watcher.lines.indexOf(l) >= seen && l.includes('"online"') && l.includes(frozenId), 20_000)
    })

    await t.test('random bytes and malformed frames sent to every protocol do not crash a device', async () => {
      const target = dev('d2')
      const before = (await request(target, 'status')).stats
      const { sent } = await request(dev('d1'), 'fuzz', { peer: ids.get('d2'), rounds: 6 }, 120_000)
      assert.ok(sent > 0)
      assert.equal(target.child.exitCode, null, 'the fuzzed device exited')
      const after = (await request(target, 'status')).stats
      const refusals = (s: typeof before): number => s.fragment.malformed + s.fragment.oversized + s.fragment.unexpected + s.health.malformed + s.health.oversized + s.health.unexpected
      assert.ok(refusals(after) > refusals(before), 'the junk was not counted')
      const put = await request(dev('d3'), 'put', { peer: ids.get('d2'), size: 50_000, seed: 'after-fuzz' })
      const got = await request(dev('d4'), 'get', { peer: ids.get('d2'), cid: put.cid })
      assert.equal(got.sha256, put.sha256)
      assert.ok((await onlinePeers(dev('d5'))).includes(ids.get('d2') ?? ''))
    })

    for (const d of devs.values()) assert.equal(d.child.exitCode, null, `${d.name} exited during the tests`)
  })
})
