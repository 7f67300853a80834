/**
 * Small synchronous overwrites through a real FUSE mount become slices (docs/vfs.md, "Small
 * overwrites: slices"): 4 KiB pwrite + fdatasync into an 8 MiB file, read back byte-exact while
 * mounted and after a remount, `palm info` lists the slices, and `palm fsck` checks every slice as
 * a stripe (clean, and more stripes checked than the file's two bases). The daemon is a child
 * process.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { createPalmHome, palm, skipWithoutFuse, startMount } from '../helpers/palm.js'
import { writeSyncedPages } from '../helpers/synced-pages.js'

const MiB = 1024 * 1024

it('4 KiB pwrite + fdatasync into an 8 MiB file: byte-exact before and after a remount, fsck clean', { skip: skipWithoutFuse(), timeout: 300_000 }, async (t) => {
  const home = await createPalmHome(t)
  const first = await startMount(t, home)
  const file = join(first.mountpoint, 'db.bin')
  const expected = randomBytes(8 * MiB)
  await writeFile(file, expected)
  const offsets = [0, 4096 * 7, 4 * MiB - 2048, 5 * MiB + 4096, 8 * MiB - 4096, 4096 * 7 + 100]
  await writeSyncedPages(file, expected, offsets)
  assert.ok((await readFile(file)).equals(expected), 'byte-exact while mounted')
  assert.equal(await first.stop(), 0)
  const second = await startMount(t, home, { mountpoint: first.mountpoint })
  assert.ok((await readFile(file)).equals(expected), 'byte-exact after a remount')
  // `palm info` lists each slice after its stripe, under the stripe's index.
  const info = await palm(['info', file, '--home', home, '--json'])
  assert.equal(info.code, 0, info.stderr)
  const rows: Array<{ index: number, length: number }> = JSON.parse(info.stdout).stripes
  assert.deepEqual(rows.map(s => `${s.index}:${s.length}`), ['0:4194304', '0:4096', '0:4096', '0:2048', '0:4096', '1:4194304', '1:2048', '1:4096', '1:4096'])
  assert.equal(await second.stop(), 0)
  const r = await palm(['fsck', '--home', home, '--json'], { timeoutMs: 120_000 })
  assert.equal(r.code, 0, r.stdout + r.stderr)
  const report = JSON.parse(r.stdout)
  assert.equal(report.clean, true, r.stdout)
  // Two bases and the slices (the page across the stripe boundary is two).
  assert.equal(report.stripesChecked, 2 + offsets.length + 1, r.stdout)
})
