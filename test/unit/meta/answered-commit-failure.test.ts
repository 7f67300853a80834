/**
 * A commit that fails after its callers were answered (issue 12, defect 6): the journal answers
 * creates once they are in the redo log, then the disk fills up before the group commit. Those
 * changes must not be lost silently: their redo frames are kept, the journal says so (health(),
 * which `palm status` shows, and the log) and turns read-only, and the next start applies them.
 * The full disk is real: a small tmpfs (root only), filled with dd between answer and commit.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdir, rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { createMetaStore } from '../../../src/meta/index.js'
import { redoSegments } from '../../../src/meta/redo.js'
import { ROOT_INO } from '../../../src/meta/types.js'
import { errorLogger } from '../../helpers/error-log.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'

const file = { type: 'file' as const, mode: 0o644, uid: 0, gid: 0 }

function tmpfsSkip (): string | false {
  return process.getuid?.() === 0 ? false : 'needs root to mount a tmpfs'
}

it('keeps answered changes whose commit failed on a full disk, says so, and applies them at the next start', { skip: tmpfsSkip(), timeout: 120_000 }, async (t) => {
  const dir = join(await createTempDir(t, 'palm-full-'), 'disk')
  await mkdir(dir)
  // Above the journal's 256 MiB reserve, so calls are answered before their commit.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=300m', 'tmpfs', dir])
  onCleanup(t, () => { execFileSync('umount', ['-l', dir]) })
  const path = join(dir, 'journal.db')
  const filler = join(dir, 'filler')
  const { logger, errors } = errorLogger()
  const s = createMetaStore({ path, deviceId: 'dev-full', logger })
  onCleanup(t, async () => { await s.stop().catch(() => {}) })
  await s.start()
  await s.create(ROOT_INO, 'before', file)
  await s.readdir(ROOT_INO, 0, 10) // committed: the next batch is only the answered creates below

  const names = Array.from({ length: 20 }, (_, i) => `answered-${i}`)
  await Promise.all(names.map(async n => await s.create(ROOT_INO, n, file)))
  // Answered (in the redo log), not committed yet (the group commit waits ~10 ms): fill the disk
  // to the last byte (dd stops at ENOSPC). Synchronous: no commit can start meanwhile.
  spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M'], { stdio: 'ignore' })
  assert.equal((await statfs(dir)).bavail, 0, 'the disk is full')

  const until = Date.now() + 60_000
  while (s.health().keptInRedo === 0 && Date.now() < until) await new Promise(r => setTimeout(r, 20))
  const h = s.health()
  assert.ok(h.keptInRedo > 0, 'the failed commit held answered changes')
  assert.equal(h.ok, false)
  assert.match(h.problems.join('\n'), /answered as done could not be committed.*kept in its redo log/)
  assert.ok(errors.some(e => /answered as done could not be committed/.test(e)), `logged: ${errors.join(' | ')}`)
  await assert.rejects(s.create(ROOT_INO, 'after-failure', file), { name: 'ReadOnlyError' })

  await rm(filler)
  await s.stop()
  assert.ok((await redoSegments(path)).length > 0, 'the redo log is kept for the next start')

  const again = createMetaStore({ path, deviceId: 'dev-full' })
  onCleanup(t, async () => { await again.stop().catch(() => {}) })
  await again.start()
  for (const n of ['before', ...names]) assert.ok(await again.lookup(ROOT_INO, n) != null, `${n} (answered) survived the failed commit`)
  assert.equal(await again.lookup(ROOT_INO, 'after-failure'), undefined)
  assert.deepEqual((await again.check()).problems, [])
  assert.equal(again.health().ok, true)
})
