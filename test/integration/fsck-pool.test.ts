/**
 * `palm fsck` on a pool of three real devices on loopback (one `palm mount`, two `palm serve`, all
 * child processes; 2-of-3, so each stripe has one fragment on each device): with the two serving
 * devices offline, fewer than k fragments of each file are reachable, and fsck must say so (exit 1,
 * naming the files and the devices) instead of "clean"; with them back, it is clean again. Then
 * the root's `user.palm.policy` is set to 1-of-2: the daemons re-encode every stripe in the
 * background and fsck finds 2 fragments a stripe.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { it } from 'node:test'
import { controlClient } from '../../src/daemon/control-client.js'
import { palm, skipWithoutFuse, startMount, startServe, testEnv, type CliResult, type ServingDaemon } from '../helpers/palm.js'
import { createTempDir } from '../helpers/tmp.js'

const execFileAsync = promisify(execFile)
const env = testEnv({ PALM_GOSSIP_INTERVAL: '500ms', PALM_OFFLINE_AFTER: '2500ms' })

async function cli (args: string[]): Promise<CliResult> {
  const r = await palm(args, { env, timeoutMs: 120_000 })
  if (r.code !== 0 && r.code !== 1) throw new Error(`palm ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
  return r
}

/**
 * Polls `home`'s daemon until each of `ids` is online (or, with `online` false, offline): asked over
 * its control socket, what `palm peers --json` prints (a CLI process per poll is slow on a loaded machine).
 */
async function waitPeers (home: string, ids: string[], online: boolean, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const peers = await controlClient({ socketPath: join(home, 'run', 'palm.sock') }).peers()
    if (ids.every(id => (peers.find(p => p.id === id)?.online ?? false) === online)) return
    if (Date.now() > until) throw new Error(`${ids.join(', ')} not ${online ? 'online' : 'offline'} for ${home} within ${timeoutMs} ms: ${JSON.stringify(peers)}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

it('fsck is not clean while the devices holding a file\'s fragments are offline, and names them', { skip: skipWithoutFuse(), timeout: 300_000 }, async (t) => {
  const root = await createTempDir(t, 'palm-fsck-pool-')
  const homes = { a: join(root, 'a'), b: join(root, 'b'), c: join(root, 'c') }
  assert.equal((await cli(['init', '--home', homes.a, '--name', 'dev-a', '--policy', '2-of-3'])).code, 0)
  const m = await startMount(t, homes.a, { mountpoint: join(root, 'mnt'), env })
  await Promise.all((['b', 'c'] as const).map(async name => {
    const code = (await cli(['invite', '--home', homes.a])).stdout.trim()
    const r = await cli(['join', code, '--home', homes[name], '--name', `dev-${name}`])
    assert.equal(r.code, 0, r.stderr)
  }))
  const start = async (name: 'b' | 'c'): Promise<ServingDaemon> => await startServe(t, homes[name], { env })
  let servers = await Promise.all([start('b'), start('c')])
  await waitPeers(homes.a, servers.map(s => s.id), true)

  const big = randomBytes(300_000)
  await writeFile(join(m.mountpoint, 'doc.bin'), big)
  await writeFile(join(m.mountpoint, 'note.txt'), 'kept\n')
  const fsck = async (): Promise<{ r: CliResult, report: any }> => {
    const r = await cli(['fsck', '--home', homes.a, '--json'])
    return { r, report: JSON.parse(r.stdout) }
  }
  const before = await fsck()
  assert.equal(before.r.code, 0, before.r.stdout)
  assert.equal(before.report.fragmentsChecked, 3 * before.report.stripesChecked, 'every fragment was checked on its holder')

  // Both serving devices go: each stripe has 1 of the 2 fragments it needs.
  await Promise.all(servers.map(async s => { await s.kill9() }))
  await waitPeers(homes.a, servers.map(s => s.id), false)
  const down = await fsck()
  assert.equal(down.r.code, 1, down.r.stdout)
  assert.equal(down.report.clean, false)
  assert.equal(down.report.counts.unreachable, 2, JSON.stringify(down.report.problems))
  const problem = down.report.problems.find((p: any) => p.file === '/doc.bin')
  assert.equal(problem?.kind, 'unreachable', JSON.stringify(down.report.problems))
  assert.deepEqual([...problem.devices].sort(), servers.map(s => s.id).sort())
  const text = await cli(['fsck', '--home', homes.a])
  assert.equal(text.code, 1, text.stdout)
  const line = text.stdout.split('\n').find(l => l.includes('/doc.bin'))
  assert.ok(line != null, `no line names /doc.bin:\n${text.stdout}`)
  for (const name of ['dev-b', 'dev-c']) assert.ok(line.includes(name), `the line does not name ${name}: ${line}`)
  assert.match(text.stdout, /^NOT clean: .*2 unreachable.*start them/m)
  t.diagnostic(text.stdout.trim())

  // They come back (with their disks): clean again, and the files read.
  servers = await Promise.all([start('b'), start('c')])
  await waitPeers(homes.a, servers.map(s => s.id), true)
  const after = await fsck()
  assert.equal(after.r.code, 0, after.r.stdout)
  assert.equal(after.report.clean, true)
  assert.deepEqual(await readFile(join(m.mountpoint, 'doc.bin')), big)

  // The folder's policy changes (the root's: 2-of-3 → 1-of-2): with no other command, the three
  // daemons re-encode their shares of the stripes (repair/reencoder.ts) and fsck finds 2 fragments
  // a stripe, every one on its holder.
  const changedAt = Date.now()
  await execFileAsync('setfattr', ['-n', 'user.palm.policy', '-v', '1-of-2', m.mountpoint])
  let last = await fsck()
  for (const until = Date.now() + 90_000; last.report.fragmentsChecked !== 2 * last.report.stripesChecked && Date.now() < until;) {
    await new Promise(resolve => setTimeout(resolve, 1000))
    last = await fsck()
  }
  assert.equal(last.report.fragmentsChecked, 2 * last.report.stripesChecked, `not re-encoded to 1-of-2: ${JSON.stringify(last.report)}`)
  assert.equal(last.r.code, 0, last.r.stdout)
  t.diagnostic(`${last.report.stripesChecked} stripes re-encoded to 1-of-2 within ${Date.now() - changedAt} ms (fsck polled every second)`)
  const status = JSON.parse((await cli(['status', '--home', homes.a, '--json'])).stdout)
  assert.equal(status.repair.reencode.stripesWaiting, 0, JSON.stringify(status.repair.reencode))
  assert.deepEqual(await readFile(join(m.mountpoint, 'doc.bin')), big)
  assert.equal(await readFile(join(m.mountpoint, 'note.txt'), 'utf8'), 'kept\n')
})
