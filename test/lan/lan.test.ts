/**
 * Multi-device LAN tests: real `palm serve` processes in network namespaces (root only; skipped
 * otherwise), queried with the `palm` CLI. One LAN for the whole file: six devices on one bridge
 * that share only the swarm key (an invite code with no addresses), one device of another swarm on
 * the same bridge, one device on a second, routed subnet that joins by invite code, and a probe (the
 * protocol-level test program, test/lan/device.ts) that puts fragments and sends junk.
 */
import '../../src/util/polyfill.js'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { palm } from '../helpers/palm.js'
import { createTempDir } from '../helpers/tmp.js'
import { createLan, lanSkipReason, startDevice, type Lan } from './harness.js'
import { deviceCommand, request } from './lan-helpers.js'
import { initHome, inviteCode, joinHome, joinHomes, lanEnv, peersOf, probeHome, startPalm, statusOf, waitAllOnline, waitPeerState, type PalmDevice } from './palm-devices.js'

const skip = lanSkipReason()
const SIX = ['d1', 'd2', 'd3', 'd4', 'd5', 'd6']
/** Bound for "all online" (the measured time is printed as a diagnostic). */
const DISCOVERY_BOUND_MS = 30_000

describe('PALM devices on a namespace LAN', { skip }, () => {
  it('discover, gossip, refuse outsiders, move fragments, survive kill -9 and junk', { timeout: 300_000 }, async (t) => {
    const lan: Lan = await createLan(t, { devices: [...SIX, 'rogue', 'probe'], routed: ['far'] })
    const root = await createTempDir(t, 'palm-lan-')
    const tag = `_palm-${randomBytes(4).toString('hex')}._udp.local`
    const env = lanEnv(tag)
    // d1 makes the swarm; the others join with a code each, redeemed at d1 while it runs.
    const homes = new Map<string, string>([['d1', await initHome(root, 'd1')]])
    for (const [name, home] of await joinHomes(t, lan, { name: 'd1', home: homes.get('d1') ?? '' }, root, SIX.slice(1), env)) homes.set(name, home)
    const devs = new Map<string, PalmDevice>()
    const dev = (name: string): PalmDevice => {
      const d = devs.get(name)
      if (d == null) throw new Error(`${name} is not running`)
      return d
    }

    await t.test('6 devices that share only the swarm key find each other by mDNS', async () => {
      const t0 = performance.now()
      const started = await Promise.all(SIX.map(async n => await startPalm(t, lan, n, homes.get(n) ?? '', env)))
      const readyMs = performance.now() - t0
      started.forEach(d => devs.set(d.name, d))
      const onlineMs = await waitAllOnline(started, DISCOVERY_BOUND_MS)
      t.diagnostic(`6 palm serve processes READY after ${(readyMs / 1000).toFixed(2)} s; all 30 peer views online ${(onlineMs / 1000).toFixed(2)} s later (${((readyMs + onlineMs) / 1000).toFixed(2)} s from spawn)`)
      const s = await statusOf(dev('d3'))
      assert.equal(s.peers.length, 5)
      for (const p of s.peers) {
        assert.ok(p.name.startsWith('d'), `peer name ${p.name}`)
        assert.ok(p.capacityBytes > 0 && p.lastSeenMs != null && p.addrs.length > 0)
      }
    })

    await t.test('a device with another swarm key is never seen and sees no one', async () => {
      const rogue = await startPalm(t, lan, 'rogue', await initHome(root, 'rogue'), env)
      // mDNS finds it and it is dialled (and dials): every attempt is refused by the key exchange.
      const until = Date.now() + 30_000
      for (;;) {
        const refused = await Promise.all([rogue, dev('d1'), dev('d2')].map(async d => (await statusOf(d)).network?.refusedConnections ?? 0))
        if (refused[0] > 0 && refused[1] + refused[2] > 0) break
        assert.ok(Date.now() < until, `no refused connection seen: ${refused.join(',')}`)
        await new Promise(resolve => setTimeout(resolve, 200))
      }
      for (const name of SIX) {
        assert.ok(!(await peersOf(dev(name))).some(p => p.id === rogue.id), `${name} lists the rogue device`)
      }
      assert.deepEqual(await peersOf(rogue), [])
      const fetch = await palm(['get', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', '--home', rogue.home])
      assert.notEqual(fetch.code, 0)
      await rogue.proc.kill('SIGTERM')
      assert.equal((await rogue.proc.exited).code, 0, 'palm serve exits 0 after SIGTERM')
    })

    await t.test('fragments put and got between devices are byte-exact', async () => {
      const probe = await startDevice(t, lan.device('probe'), deviceCommand({ home: await probeHome(root, 'probe', homes.get('d1') ?? ''), name: 'probe', tag }))
      await waitPeerState(dev('d2'), { name: 'probe', id: JSON.parse(probe.lines[0]).id } as PalmDevice, true, 20_000)
      for (const size of [4096, 1024 * 1024 + 17]) {
        const put = await request(probe, 'put', { peer: dev('d2').id, size, seed: `s${size}` })
        // d3 has no copy: `palm get` fetches it from a connected device of the swarm and verifies it.
        const got = await palm(['get', put.cid, '--home', dev('d3').home, '--output', join(root, `got-${size}`)])
        assert.equal(got.code, 0, got.stderr)
        const { readFile } = await import('node:fs/promises')
        const bytes = await readFile(join(root, `got-${size}`))
        assert.equal(bytes.length, size)
        assert.equal(createHash('sha256').update(bytes).digest('hex'), put.sha256)
      }
      const missing = await palm(['get', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', '--home', dev('d4').home])
      assert.notEqual(missing.code, 0)
      assert.match(missing.stderr, /not on this device nor on any connected device/)
      devs.set('probe', { name: 'probe', home: '', id: JSON.parse(probe.lines[0]).id, proc: probe })
    })

    await t.test('a device on another subnet joins by invite and is found through the DHT / invite addresses', async () => {
      const code = await inviteCode(dev('d1').home)
      const far = await startPalm(t, lan, 'far', await joinHome(lan, root, 'far', code), env)
      devs.set('far', far)
      const all = [...SIX.map(dev), far]
      const ms = await waitAllOnline(all, 45_000)
      t.diagnostic(`device on the routed subnet: all 7 devices online in each other's view ${(ms / 1000).toFixed(2)} s after READY`)
      for (const p of await peersOf(far)) {
        assert.ok(p.addrs.every(a => !a.includes('/127.0.0.1/')), `loopback addresses were announced on the LAN: ${p.addrs.join(' ')}`)
      }
    })

    await t.test('kill -9 of a device is noticed as offline, and its restart as online again', async () => {
      const victim = dev('d6')
      const t0 = performance.now()
      await victim.proc.kill('SIGKILL')
      const watchers = ['d1', 'd2', 'far'].map(dev)
      await Promise.all(watchers.map(async w => await waitPeerState(w, victim, false, 20_000)))
      t.diagnostic(`kill -9 noticed as offline by 3 peers within ${((performance.now() - t0) / 1000).toFixed(2)} s`)
      const t1 = performance.now()
      const again = await startPalm(t, lan, 'd6', victim.home, env)
      devs.set('d6', again)
      assert.equal(again.id, victim.id, 'the restarted device kept its peer key')
      const ms = await waitAllOnline([...watchers, again], 30_000)
      t.diagnostic(`restart seen online again ${((performance.now() - t1) / 1000).toFixed(2)} s after spawn (${(ms / 1000).toFixed(2)} s after READY)`)
    })

    await t.test('a frozen device (SIGSTOP, connections stay open) goes offline by timeout and back online on SIGCONT', async () => {
      const frozen = dev('d5')
      const t0 = performance.now()
      process.kill(frozen.proc.pid, 'SIGSTOP')
      try {
        await waitPeerState(dev('d1'), frozen, false, 20_000)
        t.diagnostic(`frozen device seen offline after ${((performance.now() - t0) / 1000).toFixed(2)} s (offline after 2.5 s)`)
      } finally {
        process.kill(frozen.proc.pid, 'SIGCONT')
      }
      await waitPeerState(dev('d1'), frozen, true, 20_000)
    })

    await t.test('random bytes and malformed frames sent to every protocol do not crash a device', async () => {
      const target = dev('d2')
      const junk = (s: Awaited<ReturnType<typeof statusOf>>): number => {
        const n = s.network
        return n == null ? 0 : n.fragment.malformed + n.fragment.oversized + n.fragment.unexpected + n.health.malformed + n.health.oversized + n.health.unexpected
      }
      const before = junk(await statusOf(target))
      const probe = dev('probe').proc
      const { sent } = await request(probe, 'fuzz', { peer: target.id, rounds: 6 }, 120_000)
      assert.ok(sent > 0)
      assert.equal(target.proc.child.exitCode, null, 'the fuzzed device exited')
      assert.ok(junk(await statusOf(target)) > before, 'the junk was not counted')
      const put = await request(probe, 'put', { peer: target.id, size: 50_000, seed: 'after-fuzz' })
      const got = await palm(['get', put.cid, '--home', target.home])
      assert.equal(got.code, 0, got.stderr)
      assert.ok((await peersOf(dev('d5'))).find(p => p.id === target.id)?.online)
    })

    for (const d of devs.values()) assert.equal(d.proc.child.exitCode, null, `${d.name} exited during the tests`)
    // SIGTERM: every palm serve stops cleanly and exits 0.
    for (const name of SIX) {
      await dev(name).proc.kill('SIGTERM')
      assert.equal((await dev(name).proc.exited).code, 0, `${name} exit code`)
    }
  })
})
