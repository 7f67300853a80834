/**
 * create + close, kill -9 at once, remount: the files are there. A close returns once the file's
 * journal entry is written to a file in the home (the redo log) but before SQLite commits it
 * (docs/durability.md); this kills the daemon right after the last close, while those commits are
 * still pending, and checks that the next start recovers every file (empty files, whose close has no
 * content to record, and small ones), its content, and a clean `palm fsck`. And the same for 4 KiB
 * overwrites of a big file, each followed by fdatasync (issue 13's fsync path).
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { createPalmHome, palm, skipWithoutFuse, startMount, testEnv } from '../helpers/palm.js'
import { writeSyncedPages } from '../helpers/synced-pages.js'
import { createTempDir } from '../helpers/tmp.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

it('keeps files created and closed right before kill -9', { skip: skipWithoutFuse(), timeout: 5 * 60_000 }, async (t) => {
  const home = await createPalmHome(t)
  const work = await createTempDir(t, 'palm-crash-close-')
  const mountpoint = join(work, 'mnt')
  const expected = new Map<string, string>()
  // The journal says at start how many ops it took from the redo log (answered, not yet committed).
  const env = testEnv({ DEBUG: 'palm:meta' })
  let recovered = 0
  for (let round = 0; round < 3; round++) {
    const m = await startMount(t, home, { mountpoint })
    const dir = join(m.mountpoint, `r${round}`)
    await mkdir(dir)
    for (let i = 0; i < 60; i++) {
      // Every third file is empty (touch: create + close), the others a few KiB.
      const data = i % 3 === 0 ? Buffer.alloc(0) : Buffer.from(`${round}:${i}:`.repeat(100 + i * 7))
      const name = join(`r${round}`, `f${i}`)
      await writeFile(join(m.mountpoint, name), data)
      expected.set(name, sha(data))
    }
    await m.kill9()

    const again = await startMount(t, home, { mountpoint, env })
    recovered += Number(/applied (\d+) ops from the redo log/.exec(again.output())?.[1] ?? 0)
    for (const [name, want] of expected) {
      const got = await readFile(join(again.mountpoint, name))
      assert.equal(sha(got), want, `${name} after kill -9 in round ${round}`)
    }
    assert.equal((await readdir(join(again.mountpoint, `r${round}`))).length, 60)
    assert.equal(await again.stop(), 0)
    const fsck = await palm(['fsck', '--home', home, '--json'])
    assert.equal(fsck.code, 0, `palm fsck after round ${round}: ${fsck.stdout}${fsck.stderr}`)
  }
  assert.ok(recovered > 0, 'some closes were recovered from the redo log (killed before their commit)')
  // A file written after all that still works.
  const last = await startMount(t, home, { mountpoint })
  await writeFile(join(last.mountpoint, 'after'), 'ok')
  assert.equal(await readFile(join(last.mountpoint, 'after'), 'utf8'), 'ok')
  assert.equal(await last.stop(), 0)
})

it('keeps small overwrites of a big file answered by fdatasync, across kill -9, twice', { skip: skipWithoutFuse(), timeout: 5 * 60_000 }, async (t) => {
  // fsync flushes only the stripes stored since the file's last fsync, once this daemon knows the
  // file's past (it created it, or walked it): round 0 creates the file here, round 1 overwrites it
  // in a new daemon that must walk its manifest first (src/vfs/unsynced.ts).
  const home = await createPalmHome(t)
  const work = await createTempDir(t, 'palm-crash-overwrite-')
  const mountpoint = join(work, 'mnt')
  const MiB = 1024 * 1024
  const expected = randomBytes(9 * MiB + 123) // three 4 MiB stripes, the last one short
  let seed = 7
  const next = (): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed }
  for (let round = 0; round < 2; round++) {
    const m = await startMount(t, home, { mountpoint })
    const path = join(m.mountpoint, 'big.db')
    if (round === 0) await writeFile(path, expected)
    await writeSyncedPages(path, expected, Array.from({ length: 12 }, () => next() % (expected.length - 4096)))
    await m.kill9()
    const again = await startMount(t, home, { mountpoint })
    assert.equal(sha(await readFile(join(again.mountpoint, 'big.db'))), sha(expected), `big.db after kill -9 in round ${round}`)
    assert.equal(await again.stop(), 0)
    const fsck = await palm(['fsck', '--home', home, '--json'])
    assert.equal(fsck.code, 0, `palm fsck after round ${round}: ${fsck.stdout}${fsck.stderr}`)
  }
})
