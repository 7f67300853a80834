/**
 * Crash test: kill -9 the daemon in the middle of a write workload, `palm mount` again (it recovers
 * the stale mount), and check that every file whose close() (and rename) had returned is intact,
 * that `palm fsck` is clean, and that nothing is left in staging. Three rounds on one home.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { REPO, createPalmHome, palm, skipWithoutFuse, startMount, testEnv, waitPidGone } from '../helpers/palm.js'
import { createTempDir, onCleanup } from '../helpers/tmp.js'

const WRITER = join(REPO, 'dist', 'test', 'integration', 'programs', 'crash-writer.js')

it('loses nothing that close() reported written when the daemon is killed mid-write', { skip: skipWithoutFuse(), timeout: 10 * 60_000 }, async (t) => {
  const home = await createPalmHome(t)
  const work = await createTempDir(t, 'palm-crash-')
  const mountpoint = join(work, 'mnt')
  const expected = new Map<string, { size: number, sha256: string }>()

  for (let round = 0; round < 3; round++) {
    const m = await startMount(t, home, { mountpoint })
    const logFile = join(work, `written-${round}.jsonl`)
    const writer = spawn(process.execPath, [WRITER, mountpoint, logFile, String(1000 + round)], { stdio: ['ignore', 'ignore', 'pipe'] })
    onCleanup(t, async () => { writer.kill('SIGKILL') })
    // Let it write for a while: until some files are done, then a bit more so a write is in flight.
    const until = Date.now() + 20_000
    while (Date.now() < until) {
      const done = await readFile(logFile, 'utf8').catch(() => '')
      if (done.split('\n').length > 15) break
      await new Promise(r => setTimeout(r, 100))
    }
    await new Promise(r => setTimeout(r, 150 + round * 97))
    await m.kill9()
    writer.kill('SIGKILL')
    if (writer.pid != null) await waitPidGone(writer.pid)

    for (const line of (await readFile(logFile, 'utf8')).split('\n').filter(l => l.length > 0)) {
      const rec = JSON.parse(line)
      // An in-place rewrite truncates at open: until its close returns, any content is legitimate.
      if (rec.rewriting != null) expected.delete(rec.rewriting)
      else expected.set(rec.name, { size: rec.size, sha256: rec.sha256 })
    }
    assert.ok(expected.size > 0, 'the writer completed some files before the kill')

    // Remount over the stale mount and check every completed file.
    const again = await startMount(t, home, { mountpoint })
    for (const [name, want] of expected) {
      const got = await readFile(join(again.mountpoint, name))
      assert.equal(got.length, want.size, `${name}: size after crash round ${round}`)
      assert.equal(createHash('sha256').update(got).digest('hex'), want.sha256, `${name}: content after crash round ${round}`)
    }
    const fsck = await palm(['fsck', '--home', home, '--json'])
    assert.equal(fsck.code, 0, `palm fsck after round ${round}: ${fsck.stdout}${fsck.stderr}`)
    assert.equal(JSON.parse(fsck.stdout).clean, true)
    assert.equal(await again.stop(), 0)
    assert.deepEqual(await readdir(join(home, 'staging')), [], 'staging is empty after recovery')
  }
  // The daemon is stopped: fsck runs offline too.
  const offline = await palm(['fsck', '--home', home], { env: testEnv() })
  assert.equal(offline.code, 0, offline.stdout + offline.stderr)
})
