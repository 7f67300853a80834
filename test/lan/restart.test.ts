/**
 * Restarts and crashes on a namespace LAN (root only; skipped otherwise): six real devices, one
 * `palm mount` and five `palm serve`, 4-of-6.
 *
 * - Reads right after a restart: the writer is unmounted and mounted again (what a reboot does)
 *   while two serving devices restart too, and all 303 files are read at once the moment the mount
 *   answers. Reads wait for devices that are expected back (within `readFailMs`) instead of failing
 *   with EIO; `palm mount` waits a short bound for the known devices and `palm status` names those
 *   still missing.
 * - kill -9 of the writing daemon while a close is storing fragments on other devices: after the
 *   restart every file whose close returned reads back byte-exact and `palm fsck` is clean; so do
 *   4 KiB overwrites of a 9 MiB file, each answered by fdatasync, made just before.
 * - kill -9 of a serving device while it stores a close's fragments: the close either returns with
 *   every fragment acknowledged by a device that is still there, or fails; what it reported written
 *   reads back.
 */
import '../../src/util/polyfill.js'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { forceUnmount, palm } from '../helpers/palm.js'
import { createTempDir, onCleanup, type Cleanup } from '../helpers/tmp.js'
import { createLan, lanSkipReason } from './harness.js'
import { lanEnv, startPalm, statusOf, waitAllOnline, waitPeerState, type PalmDevice } from './palm-devices.js'
import { startMount, statusWhen, verifyFiles, writeRandomFile, writeSmallTree, type Swarm, startSwarm } from './pool-devices.js'

const skip = lanSkipReason()
const SIX = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6']
const MiB = 1024 * 1024

async function fsckOf (dev: PalmDevice): Promise<{ clean: boolean, problems: unknown[], counts: Record<string, number> }> {
  const r = await palm(['fsck', '--home', dev.home, '--json'], { timeoutMs: 300_000 })
  return JSON.parse(r.stdout)
}

interface WriterLine { kind: 'closing' | 'closed' | 'failed', path: string, sum?: string, error?: string }

/**
 * A child process that writes `count` random files of `size` bytes under `dir`, one after the
 * other, and prints `closing PATH` before each close and `closed PATH SHA256` (or `failed PATH
 * CODE`) after it. Run as a child: the test must never hold a request on a mount whose daemon it kills.
 */
function startWriter (t: Cleanup, dir: string, count: number, size: number): { lines: WriterLine[], waitFor: (ok: (l: WriterLine) => boolean, timeoutMs: number) => Promise<WriterLine>, done: Promise<void> } {
  const script = `
    const fs = require('node:fs'); const crypto = require('node:crypto'); const path = require('node:path')
    const [dir, count, size] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])]
    for (let i = 0; i < count; i++) {
      const p = path.join(dir, 'w' + i)
      const data = crypto.randomBytes(size)
      let fd
      try {
        fd = fs.openSync(p, 'w')
        for (let off = 0; off < size; off += 1 << 20) fs.writeSync(fd, data, off, Math.min(1 << 20, size - off))
        console.log('closing ' + p)
        fs.closeSync(fd)
        console.log('closed ' + p + ' ' + crypto.createHash('sha256').update(data).digest('hex'))
      } catch (err) {
        console.log('failed ' + p + ' ' + err.code)
        process.exit(1)
      }
    }`
  const child = spawn(process.execPath, ['-e', script, dir, String(count), String(size)], { stdio: ['ignore', 'pipe', 'inherit'] })
  onCleanup(t, async () => {
    if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL')
  })
  const lines: WriterLine[] = []
  const waiters = new Set<{ ok: (l: WriterLine) => boolean, resolve: (l: WriterLine) => void }>()
  let buf = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const [kind, path, extra] = buf.slice(0, nl).split(' ')
      buf = buf.slice(nl + 1)
      const line: WriterLine = kind === 'closed' ? { kind, path, sum: extra } : { kind: kind as WriterLine['kind'], path, error: extra }
      lines.push(line)
      for (const w of waiters) if (w.ok(line)) { waiters.delete(w); w.resolve(line) }
    }
  })
  const done = new Promise<void>(resolve => { child.on('close', () => { resolve() }) })
  const waitFor = async (ok: (l: WriterLine) => boolean, timeoutMs: number): Promise<WriterLine> => {
    const past = lines.find(ok)
    if (past != null) return past
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`the writer did not get there within ${timeoutMs} ms; lines: ${JSON.stringify(lines)}`)) }, timeoutMs)
      waiters.add({ ok, resolve: (l) => { clearTimeout(timer); resolve(l) } })
      void done.then(() => { clearTimeout(timer); reject(new Error(`the writer exited; lines: ${JSON.stringify(lines)}`)) })
    })
  }
  return { lines, waitFor, done }
}

describe('restarts and crashes on a namespace LAN', { skip }, () => {
  it('6 devices, 4-of-6: reads right after a restart wait for the swarm; kill -9 of the writer or a server loses nothing reported written', { timeout: 900_000 }, async (t) => {
    const lan = await createLan(t, { devices: SIX })
    const root = await createTempDir(t, 'palm-restart-lan-')
    // Gossip slower than lanEnv's, offline later: with six daemons on a loaded 2-core machine a
    // 2.5 s silence is no sign of death (a killed device's connections close at once anyway).
    const env = lanEnv(`_palm-${randomBytes(4).toString('hex')}._udp.local`, { PALM_GOSSIP_INTERVAL: '1s', PALM_OFFLINE_AFTER: '15s' })
    // The read path alone must wait for the swarm: `palm mount` answers at once here.
    const noWait = { ...env, PALM_SWARM_WAIT: '0' }
    const swarm: Swarm = await startSwarm(t, lan, root, { names: SIX, env, initArgs: ['--policy', '4-of-6'], onlineTimeoutMs: 240_000 })
    const mnt = swarm.mount.mountpoint
    const mountEnv = { ...noWait, DEBUG: 'palm:place*,palm:net,palm:daemon,palm:fuse:error' }
    const sums = new Map<string, string>()

    // Stops the mount and `servers`, starts the mount again with `menv` and resolves at its READY;
    // `servers` are started again only then (their `palm serve` READY does not wait for the swarm).
    const restart = async (servers: string[], menv: Record<string, string>): Promise<() => Promise<void>> => {
      await Promise.all([swarm.mount.proc.kill('SIGTERM'), ...servers.map(async n => { await swarm.dev(n).proc.kill('SIGTERM') })])
      const m = await startMount(t, lan, 'r1', swarm.mount.home, menv, mnt, swarm.mount.logFile)
      Object.defineProperty(swarm, 'mount', { value: m, configurable: true })
      return async () => {
        await Promise.all(servers.map(async n => { swarm.servers.set(n, await startPalm(t, lan, n, swarm.homes.get(n) ?? '', noWait)) }))
      }
    }

    await t.test('303 files read at once right after unmount + mount while three servers restart: all byte-exact, no EIO', async () => {
      await mkdir(join(mnt, 'tree'))
      for (const [path, sum] of await writeSmallTree(join(mnt, 'tree'), 300)) sums.set(path, sum)
      for (const [name, size] of [['a', 4 * MiB + 1], ['b', 9 * MiB], ['c', 3 * MiB]] as const) sums.set(join(mnt, name), await writeRandomFile(join(mnt, name), size))
      await statusWhen(swarm.mount, s => s.protectionDetail.pendingSpread === 0 && s.protectionDetail.stripesBelowN === 0, 180_000)
      // r1 (here), r5 and r6 hold 3 fragments of each stripe: every read needs one of r2…r4, which
      // start only as the reads begin. Generous read and op deadlines keep this robust under load.
      const startServers = await restart(['r2', 'r3', 'r4'], { ...mountEnv, PALM_READ_FAIL: '40s', PALM_OP_TIMEOUT: '60s' })
      const t0 = performance.now()
      const [bad] = await Promise.all([verifyFiles(sums, sums.size), startServers()])
      t.diagnostic(`read ${sums.size} files at once right after the restart in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
      assert.deepEqual(bad, [])
    })

    await t.test('palm mount waits for the known devices; status names the one still missing', async () => {
      await waitAllOnline([swarm.mount, ...swarm.servers.values()], 180_000)
      await swarm.dev('r6').proc.kill('SIGKILL')
      await waitPeerState(swarm.mount, swarm.dev('r6'), false, 60_000)
      swarm.servers.delete('r6')
      // The default bound: READY comes once r2…r5 have answered (or the bound has passed).
      await restart([], { ...env, DEBUG: mountEnv.DEBUG })
      const s = await statusOf(swarm.mount)
      assert.deepEqual(s.missingDevices?.map(d => d.name), ['r6'], JSON.stringify(s.missingDevices))
      assert.deepEqual(s.peers.filter(p => p.online).map(p => p.name).sort(), ['r2', 'r3', 'r4', 'r5'])
      const text = await palm(['status', '--home', swarm.mount.home])
      assert.match(text.stdout, /missing.*r6/i)
      swarm.servers.set('r6', await startPalm(t, lan, 'r6', swarm.homes.get('r6') ?? '', noWait))
      await statusWhen(swarm.mount, x => (x.missingDevices?.length ?? 0) === 0, 120_000)
    })

    await t.test('kill -9 of the writing daemon while a close stores fragments: every closed file reads back, fsck is clean', async () => {
      await waitAllOnline([swarm.mount, ...swarm.servers.values()], 180_000)
      // Small overwrites of a big file, each answered by fdatasync (issue 13's fsync path: only the
      // stripes stored since the file's last fsync are flushed, on the devices holding them).
      const big = join(mnt, 'b')
      const bytes = await readFile(big)
      const fh = await open(big, 'r+')
      try {
        for (let i = 0; i < 6; i++) {
          const page = randomBytes(4096)
          const at = (i * 1_572_869) % (bytes.length - page.length)
          await fh.write(page, 0, page.length, at)
          await fh.datasync()
          page.copy(bytes, at)
        }
      } finally {
        await fh.close()
      }
      sums.set(big, createHash('sha256').update(bytes).digest('hex'))
      const dir = join(mnt, 'crash-writer')
      await mkdir(dir)
      const w = startWriter(t, dir, 40, 12 * MiB)
      // Two closes have returned, and the third is storing its 3 stripes × 6 fragments.
      await w.waitFor(l => l.kind === 'closing' && l.path.endsWith('w2'), 120_000)
      await swarm.mount.proc.kill('SIGKILL')
      await forceUnmount(mnt)
      await w.done
      const closed = new Map(w.lines.filter(l => l.kind === 'closed').map(l => [l.path, l.sum ?? '']))
      assert.ok(closed.size >= 2, `closes reported: ${JSON.stringify(w.lines)}`)
      await restart([], mountEnv)
      assert.deepEqual(await verifyFiles(closed), [])
      assert.deepEqual(await verifyFiles(new Map([[big, sums.get(big) ?? '']])), [], 'the overwrites answered by fdatasync')
      for (const [k, v] of closed) sums.set(k, v)
      // fsck asks every holder: with all of them back, nothing may be missing, corrupt or dangling.
      await waitAllOnline([swarm.mount], 180_000, [...swarm.servers.values()])
      const f = await fsckOf(swarm.mount)
      assert.equal(f.clean, true, JSON.stringify(f.problems.slice(0, 5)))
    })

    await t.test('kill -9 of a serving device while it stores fragments: the close keeps the durability rule', async () => {
      await waitAllOnline([swarm.mount, ...swarm.servers.values()], 180_000)
      const dir = join(mnt, 'crash-server')
      await mkdir(dir)
      const w = startWriter(t, dir, 3, 24 * MiB)
      await w.waitFor(l => l.kind === 'closing' && l.path.endsWith('w1'), 120_000)
      await swarm.dev('r4').proc.kill('SIGKILL')
      swarm.servers.delete('r4')
      await w.done
      const closed = new Map(w.lines.filter(l => l.kind === 'closed').map(l => [l.path, l.sum ?? '']))
      const failed = w.lines.filter(l => l.kind === 'failed')
      // Durability rule `all`: each close returns once every fragment is acknowledged by a device
      // (those meant for r4 went elsewhere and wait for it), or it fails clearly with EIO.
      for (const f of failed) assert.equal(f.error, 'EIO', JSON.stringify(f))
      assert.ok(closed.has(join(dir, 'w0')), `the first close returned: ${JSON.stringify(w.lines)}`)
      const s = await statusOf(swarm.mount)
      assert.equal(s.protectionDetail.stripesReachable, s.protectionDetail.stripesTotal, s.protection)
      assert.ok(s.protectionDetail.pendingSpread > 0 || closed.size === 0, 'fragments meant for r4 are queued for it')
      assert.deepEqual(await verifyFiles(closed), [])
      for (const [k, v] of closed) sums.set(k, v)
      const f = await fsckOf(swarm.mount)
      assert.equal(f.counts.missing + f.counts.corrupt, 0, JSON.stringify(f.problems.slice(0, 5)))
      // r4 returns: the queued fragments reach it and everything reads back.
      swarm.servers.set('r4', await startPalm(t, lan, 'r4', swarm.homes.get('r4') ?? '', noWait))
      await statusWhen(swarm.mount, x => x.protectionDetail.pendingSpread === 0, 180_000)
      assert.deepEqual(await verifyFiles(sums, 32), [])
    })
  })
})
