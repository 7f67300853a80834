/**
 * A damaged journal through the CLI and a real mount (issue 12, defect 6): 300 files are created
 * through the mount, one page of the journal's `inodes` table is damaged on disk, and then
 * `palm mount` refuses with the way to recover (instead of answering "not found" for the names on
 * that page), `palm fsck` reports it and exits non-zero, `palm fsck --repair` rebuilds the journal
 * from its signed op log, the mount shows all 300 files with their content again, and
 * `palm status` says what happened and where the damaged copy is.
 */
import assert from 'node:assert/strict'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { createPalmHome, palm, skipWithoutFuse, startMount } from '../helpers/palm.js'
import { damageTablePage } from '../helpers/sqlite-pages.js'
import { createTempDir } from '../helpers/tmp.js'

const FILES = 300

it('refuses a damaged journal, fsck reports it and --repair brings back all 300 files', { skip: skipWithoutFuse(), timeout: 10 * 60_000 }, async (t) => {
  const home = await createPalmHome(t)
  const mountpoint = join(await createTempDir(t, 'palm-jdamage-'), 'mnt')
  const content = (i: number): string => i % 3 === 0 ? '' : `file ${i}\n`.repeat(1 + i % 7)
  const m = await startMount(t, home, { mountpoint })
  for (let i = 0; i < FILES; i += 25) {
    await Promise.all(Array.from({ length: Math.min(25, FILES - i) }, async (_, j) => { await writeFile(join(mountpoint, `f${i + j}`), content(i + j)) }))
  }
  assert.equal(await m.stop(), 0)

  const page = await damageTablePage(join(home, 'journal.db'), 'inodes')
  assert.ok(page.cellsAfter < page.cellsBefore)

  const mount = await palm(['mount', mountpoint, '--home', home, '--foreground'], { timeoutMs: 120_000 })
  assert.notEqual(mount.code, 0, `palm mount of a damaged journal must fail:\n${mount.stdout}${mount.stderr}`)
  assert.match(mount.stderr, /journal .*journal\.db is damaged.*palm fsck --repair/)
  assert.doesNotMatch(mount.stdout, /READY/)
  t.diagnostic(`palm mount: ${mount.stderr.trim()}`)

  const fsck = await palm(['fsck', '--home', home], { timeoutMs: 120_000 })
  assert.equal(fsck.code, 1, `${fsck.stdout}${fsck.stderr}`)
  assert.match(fsck.stdout, /^journal .*is damaged/m)

  const repair = await palm(['fsck', '--home', home, '--repair'], { timeoutMs: 300_000 })
  assert.equal(repair.code, 0, `${repair.stdout}${repair.stderr}`)
  assert.match(repair.stdout, /rebuilt from its op log: (\d+) of \1 ops applied; the damaged copy is kept in .*damaged\/journal\.db\./)
  assert.match(repair.stdout, /^clean:/m)
  t.diagnostic(`palm fsck --repair: ${repair.stdout.trim()}`)
  assert.ok((await readdir(join(home, 'damaged'))).some(n => n.startsWith('journal.db.')))

  const again = await startMount(t, home, { mountpoint })
  const names = await readdir(mountpoint)
  assert.equal(names.length, FILES)
  for (let i = 0; i < FILES; i++) assert.equal(await readFile(join(mountpoint, `f${i}`), 'utf8'), content(i), `f${i}`)
  const status = await palm(['status', '--home', home])
  assert.equal(status.code, 0, status.stderr)
  t.diagnostic(`palm status: ${status.stdout.split('\n').filter(l => l.startsWith('journal')).join(' | ')}`)
  assert.match(status.stdout, /^journal +.*was damaged; fsck --repair rebuilt it from its op log/m)
  assert.equal(await again.stop(), 0)
})
