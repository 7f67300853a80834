/**
 * The `palm` command as users and other tools see it: names, flags, JSON fields, exit codes and
 * one-line errors; `mount`/`unmount` in the background, with a killed daemon, and over a stale mount;
 * `fsck` finding and repairing a damaged fragment.
 */
import assert from 'node:assert/strict'
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { it } from 'node:test'
import { createPalmHome, forceUnmount, hugePagesUntestable, palm, skipWithoutFuse, testEnv, waitPidGone } from '../helpers/palm.js'
import { createTempDir, onCleanup, type Cleanup } from '../helpers/tmp.js'
import { isMountpoint } from '../../src/daemon/mountinfo.js'
import { BLAKE3_CODE, CID, SHA256_CODE, matchesCid } from '../../src/util/cid.js'

/** `palm mount` in the background, with cleanup that stops the daemon however the test ends. */
async function mountInBackground (t: Cleanup, home: string, mountpoint: string, env?: Record<string, string>): Promise<number> {
  const r = await palm(['mount', mountpoint, '--home', home], { env })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /mounted: /)
  const pid = Number(/daemon pid (\d+)/.exec(r.stdout)?.[1])
  onCleanup(t, async () => {
    await palm(['unmount', mountpoint, '--home', home]).catch(() => {})
    try { process.kill(pid, 'SIGKILL') } catch {}
    if (await isMountpoint(mountpoint)) await forceUnmount(mountpoint)
  })
  return pid
}

it('init creates a private home and refuses a second init with one clear line', async (t) => {
  const home = await createPalmHome(t)
  for (const f of ['swarm.key', 'device.key', 'config.json']) {
    assert.equal((await stat(join(home, f))).mode & 0o777, 0o600, f)
  }
  const again = await palm(['init', '--home', home])
  assert.notEqual(again.code, 0)
  assert.equal(again.stderr.trim().split('\n').length, 1, again.stderr)
  assert.match(again.stderr, /already holds a PALM device/)
})

it('status --json has the contract fields and says there is no redundancy alone', async (t) => {
  const home = await createPalmHome(t, ['--capacity', '2G'])
  const r = await palm(['status', '--home', home, '--json'])
  assert.equal(r.code, 0, r.stderr)
  const s = JSON.parse(r.stdout)
  assert.equal(typeof s.device.id, 'string')
  assert.equal(s.device.name, 'test-device')
  assert.equal(s.mount.path, null)
  assert.equal(s.capacityBytes, 2 * 2 ** 30)
  assert.equal(s.usedBytes, 0)
  assert.equal(s.files, 0)
  assert.deepEqual(s.policy, { k: 4, n: 6 })
  assert.match(s.protection, /no redundancy against losing this device/)
  assert.ok(Array.isArray(s.peers))
  const text = await palm(['status', '--home', home])
  assert.match(text.stdout, /no redundancy against losing this device/)
})

it('errors are one line with a remedy; DEBUG=palm:* adds the stack', async (t) => {
  const dir = await createTempDir(t)
  const missing = await palm(['status', '--home', join(dir, 'nothing')])
  assert.notEqual(missing.code, 0)
  assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr)
  assert.match(missing.stderr, /palm init/)
  const debug = await palm(['status', '--home', join(dir, 'nothing')], { env: testEnv({ DEBUG: 'palm:*' }) })
  assert.match(debug.stderr, /\n\s+at /)
  const badSize = await palm(['init', '--home', join(dir, 'h'), '--capacity', '10X'])
  assert.notEqual(badSize.code, 0)
  assert.match(badSize.stderr, /--capacity.*10X.*size/)
  const badFlag = await palm(['status', '--frobnicate'])
  assert.notEqual(badFlag.code, 0)
  assert.equal(badFlag.stderr.trim().split('\n').length, 1)
  const noCmd = await palm(['frobnicate'])
  assert.equal(noCmd.code, 2)
})

it('mount returns once live, unmount stops the daemon, both are idempotent', { skip: skipWithoutFuse(), timeout: 120_000 }, async (t) => {
  const home = await createPalmHome(t)
  const mountpoint = join(await createTempDir(t), 'not', 'yet', 'there')
  // A user's own glibc tunables stay; the daemon's (huge pages, src/daemon/daemon-env.ts) are added.
  const pid = await mountInBackground(t, home, mountpoint, { ...testEnv(), GLIBC_TUNABLES: 'glibc.malloc.tcache_count=7' })
  assert.ok(await isMountpoint(mountpoint, 'fuse.palm'))
  await writeFile(join(mountpoint, 'hello.txt'), 'hi\n')
  const s = JSON.parse((await palm(['status', '--home', home, '--json'])).stdout)
  assert.equal(s.mount.path, mountpoint)
  assert.equal(s.daemon.pid, pid)
  assert.equal(s.files, 1)
  assert.ok((await readdir(join(home, 'logs'))).includes('daemon.log'))
  // glibc reads the tunables at exec (their text in /proc/PID/environ is not kept whole): what shows
  // is the daemon's stripe buffers on huge pages once it has written some.
  if (hugePagesUntestable() === undefined) {
    await writeFile(join(mountpoint, 'stripes.bin'), randomBytes(16 << 20))
    const huge = Number(/AnonHugePages:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1])
    assert.ok(huge > 0, `the daemon has no huge pages (${huge} kB) after writing 16 MiB`)
    await rm(join(mountpoint, 'stripes.bin'))
  }
  const again = await palm(['mount', mountpoint, '--home', home])
  assert.equal(again.code, 0)
  assert.match(again.stdout, /already mounted/)
  // The status page on 127.0.0.1 (its URL carries the token kept in the home) serves the same status as JSON.
  const token = (await readFile(join(home, 'dashboard.token'), 'utf8')).trim()
  assert.equal(s.daemon.dashboard.replace(/:\d+\//, ':PORT/'), `http://127.0.0.1:PORT/?token=${token}`)
  assert.match(await (await fetch(s.daemon.dashboard)).text(), /<title>PALM<\/title>/)
  const base = String(s.daemon.dashboard).replace(/\?.*$/, '')
  assert.equal((await (await fetch(`${base}api/status?token=${token}`)).json()).files, 1)
  assert.equal((await fetch(`${base}api/status`)).status, 403, 'no token, no answer')
  const u = await palm(['unmount', '--home', home])
  assert.equal(u.code, 0, u.stderr)
  await waitPidGone(pid)
  assert.equal(await isMountpoint(mountpoint), false)
  const u2 = await palm(['unmount', mountpoint, '--home', home])
  assert.equal(u2.code, 0)
  assert.match(u2.stdout, /nothing to unmount/)
})

it('unmount and mount recover the stale mount of a killed daemon', { skip: skipWithoutFuse(), timeout: 120_000 }, async (t) => {
  const home = await createPalmHome(t)
  const mountpoint = join(await createTempDir(t), 'mnt')
  let pid = await mountInBackground(t, home, mountpoint)
  await writeFile(join(mountpoint, 'kept.txt'), 'kept\n')
  process.kill(pid, 'SIGKILL')
  await waitPidGone(pid)
  const u = await palm(['unmount', mountpoint, '--home', home])
  assert.equal(u.code, 0, u.stderr)
  assert.match(u.stdout, /recovered the stale mount/)
  assert.equal(await isMountpoint(mountpoint), false)
  // Killed again, then `palm mount` straight over the stale mount.
  pid = await mountInBackground(t, home, mountpoint)
  process.kill(pid, 'SIGKILL')
  await waitPidGone(pid)
  await mountInBackground(t, home, mountpoint)
  assert.equal(await readFile(join(mountpoint, 'kept.txt'), 'utf8'), 'kept\n')
})

it('unmount acts only on its own home\'s mount: another home\'s, live or stale, is left alone', { skip: skipWithoutFuse(), timeout: 180_000 }, async (t) => {
  const homeA = await createPalmHome(t)
  const homeB = await createPalmHome(t)
  const dir = await createTempDir(t)
  const shared = join(dir, 'palm')
  const pidB = await mountInBackground(t, homeB, shared)
  await writeFile(join(shared, 'b.txt'), 'b\n')
  // `shared` is also A's default mountpoint; A has no daemon.
  const envA = testEnv({ PALM_MOUNTPOINT: shared })
  const bAlive = async (): Promise<void> => {
    assert.ok(await isMountpoint(shared, 'fuse.palm'), 'B is still mounted')
    assert.equal(await readFile(join(shared, 'b.txt'), 'utf8'), 'b\n')
    assert.equal(JSON.parse((await palm(['status', '--home', homeB, '--json'])).stdout).mount.path, shared)
  }
  for (const args of [['unmount', '--home', homeA], ['unmount', shared, '--home', homeA]]) {
    const u = await palm(args, { env: envA })
    assert.equal(u.code, 0, u.stderr)
    assert.equal(u.stdout.trim().split('\n').length, 1, u.stdout)
    assert.match(u.stdout, /^nothing to unmount/)
    assert.ok(u.stdout.includes(homeB), `the line names the home the mount belongs to: ${u.stdout}`)
    await bAlive()
  }
  // `palm mount` of A there refuses with one line naming B's home.
  const m = await palm(['mount', '--home', homeA], { env: envA })
  assert.notEqual(m.code, 0)
  assert.equal(m.stderr.trim().split('\n').length, 1, m.stderr)
  assert.ok(m.stderr.includes(homeB), m.stderr)
  await bAlive()

  // A's own stale mount is still recovered, found by its source alone (no run/mount.json left).
  const mntA = join(dir, 'a')
  const pidA = await mountInBackground(t, homeA, mntA)
  process.kill(pidA, 'SIGKILL')
  await waitPidGone(pidA)
  await rm(join(homeA, 'run', 'mount.json'), { force: true })
  const ua = await palm(['unmount', mntA, '--home', homeA])
  assert.equal(ua.code, 0, ua.stderr)
  assert.match(ua.stdout, /recovered the stale mount/)
  assert.equal(await isMountpoint(mntA), false)

  // B's daemon dies: its stale mount is B's to recover, not A's.
  process.kill(pidB, 'SIGKILL')
  await waitPidGone(pidB)
  const u = await palm(['unmount', '--home', homeA], { env: envA })
  assert.equal(u.code, 0, u.stderr)
  assert.match(u.stdout, /^nothing to unmount/)
  assert.ok(await isMountpoint(shared, 'fuse.palm'))
  const ub = await palm(['unmount', '--home', homeB])
  assert.equal(ub.code, 0, ub.stderr)
  assert.match(ub.stdout, /recovered the stale mount/)
  assert.equal(await isMountpoint(shared), false)
})

/** The fragment files (not packs) under a home, by path. */
async function fragmentFiles (home: string): Promise<string[]> {
  const files: string[] = []
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name))
      else if (e.name.startsWith('bafk')) files.push(join(d, e.name))
    }
  }
  await walk(join(home, 'fragments'))
  return files
}

const hashOf = (file: string): number => CID.parse(basename(file)).multihash.code

/** Flips a bit of a fragment file's last byte (its shard: the header stays valid). */
async function damage (file: string): Promise<void> {
  const bytes = await readFile(file)
  bytes[bytes.length - 1] ^= 1
  await writeFile(file, bytes)
}

it('fsck finds a damaged fragment (exit 1) and --repair rebuilds it from the others', { skip: skipWithoutFuse(), timeout: 120_000 }, async (t) => {
  const home = await createPalmHome(t)
  const mountpoint = join(await createTempDir(t), 'mnt')
  await mountInBackground(t, home, mountpoint)
  const data = Buffer.alloc(8 * 2 ** 20, 7)
  await writeFile(join(mountpoint, 'big.bin'), data)
  assert.equal((await palm(['unmount', '--home', home])).code, 0)
  // Damage one large fragment file (fragments of 4 MiB stripes are 1 MiB: files, not packed).
  const files = await fragmentFiles(home)
  assert.ok(files.length > 0, 'large fragments are stored as files')
  await damage(files[0])
  const bad = await palm(['fsck', '--home', home, '--json'])
  assert.equal(bad.code, 1, bad.stdout + bad.stderr)
  const report = JSON.parse(bad.stdout)
  assert.equal(report.clean, false)
  assert.equal(report.counts.corrupt, 1)
  assert.equal(report.problems[0].file, '/big.bin')
  // --repair says what it rebuilt: the count, the file and the fragment.
  const fixed = await palm(['fsck', '--home', home, '--repair'])
  assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr)
  assert.match(fixed.stdout, /^repaired 1 fragment of 1 file$/m)
  const line = fixed.stdout.split('\n').find(l => l.startsWith('repaired ') && l.includes('/big.bin'))
  assert.ok(line?.includes(report.problems[0].cid), `no line names /big.bin and the rebuilt fragment:\n${fixed.stdout}`)
  // The first fsck moved the corrupt copy to quarantine, so this one found it missing.
  assert.match(line ?? '', /fragment \d+ of stripe 0 was (corrupt|missing): rebuilt/)
  assert.equal((await palm(['fsck', '--home', home])).code, 0)
  await mountInBackground(t, home, mountpoint)
  assert.deepEqual(await readFile(join(mountpoint, 'big.bin')), data)
})


it('a file written in fragment format 1 (SHA-256) reads back, and fsck --repair rebuilds it in format 1, after the switch to 2', { skip: skipWithoutFuse(), timeout: 120_000 }, async (t) => {
  const home = await createPalmHome(t)
  const mountpoint = join(await createTempDir(t), 'mnt')
  await mountInBackground(t, home, mountpoint, testEnv({ PALM_FRAGMENT_FORMAT: '1' }))
  const old = randomBytes(6 * 2 ** 20)
  await writeFile(join(mountpoint, 'old.bin'), old)
  assert.equal((await palm(['unmount', '--home', home])).code, 0)
  const v1 = await fragmentFiles(home)
  assert.ok(v1.length > 0, 'large fragments are stored as files')
  assert.deepEqual([...new Set(v1.map(hashOf))], [SHA256_CODE], 'format 1 names fragments by SHA-256')

  // The default is format 2: the old file still reads, a new one is named by BLAKE3.
  await mountInBackground(t, home, mountpoint)
  assert.deepEqual(await readFile(join(mountpoint, 'old.bin')), old)
  const fresh = randomBytes(6 * 2 ** 20)
  await writeFile(join(mountpoint, 'new.bin'), fresh)
  assert.equal((await palm(['unmount', '--home', home])).code, 0)
  assert.ok((await fragmentFiles(home)).some(f => hashOf(f) === BLAKE3_CODE), 'format 2 names fragments by BLAKE3')

  // A damaged format-1 fragment comes back in format 1: the CID the journal names, not a re-encode's.
  const victim = v1[0]
  await damage(victim)
  const fixed = await palm(['fsck', '--home', home, '--repair'])
  assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr)
  assert.match(fixed.stdout, /^repaired 1 fragment of 1 file$/m)
  const rebuilt = await readFile(victim)
  assert.equal(rebuilt[4], 1, 'the rebuilt fragment says format version 1')
  assert.ok(matchesCid(CID.parse(basename(victim)), rebuilt), 'the rebuilt fragment matches its SHA-256 CID')
  assert.equal((await palm(['fsck', '--home', home])).code, 0)
  await mountInBackground(t, home, mountpoint)
  assert.deepEqual(await readFile(join(mountpoint, 'old.bin')), old)
  assert.deepEqual(await readFile(join(mountpoint, 'new.bin')), fresh)
})

it('a running daemon collects fragments no file uses any more', { skip: skipWithoutFuse(), timeout: 120_000 }, async (t) => {
  const home = await createPalmHome(t)
  const mountpoint = join(await createTempDir(t), 'mnt')
  // A grace of 0 would let GC take the fragments of a write in flight (stored, not yet in the journal).
  const env = testEnv({ PALM_GC_INTERVAL: '300ms', PALM_GC_GRACE: '2s' })
  const r = await palm(['mount', mountpoint, '--home', home], { env })
  assert.equal(r.code, 0, r.stderr)
  onCleanup(t, async () => { await palm(['unmount', mountpoint, '--home', home]) })
  await writeFile(join(mountpoint, 'a.bin'), Buffer.alloc(100_000, 1))
  await writeFile(join(mountpoint, 'b.bin'), Buffer.alloc(100_000, 2))
  const fragments = async (): Promise<number> => JSON.parse((await palm(['status', '--home', home, '--json'])).stdout).fragments
  assert.equal(await fragments(), 12)
  const { unlink } = await import('node:fs/promises')
  await unlink(join(mountpoint, 'a.bin'))
  const until = Date.now() + 30_000
  while (await fragments() !== 6) {
    assert.ok(Date.now() < until, 'the unused fragments were not collected')
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  assert.equal((await palm(['fsck', '--home', home])).code, 0)
})
