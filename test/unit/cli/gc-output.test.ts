/** What `palm gc` prints of what it kept: within the grace period, and kept by an open file's pin. */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { formatGc } from '../../../src/cli/commands/gc.js'
import type { GcResult } from '../../../src/daemon/control-api.js'

const base: GcResult = { deleted: 1, freedBytes: 1024, dryRun: false, scanned: 10, referenced: 4, foreign: 0, young: 0, youngBytes: 0, pinned: 0, pinnedBytes: 0, graceMs: 3_600_000, nextEligibleInMs: null }

it('says when the first young fragment can go', () => {
  const lines = formatGc({ ...base, young: 3, youngBytes: 3072, nextEligibleInMs: 600_000 }).split('\n')
  assert.equal(lines.length, 3)
  assert.match(lines[2], /^kept 3 unused fragments \(3(\.\d+)? KiB\) younger than the grace period of 1 h .*the first can go in 10 min/)
})

it('says that fragments an open file pins go once it is closed or fsynced, not when', () => {
  const lines = formatGc({ ...base, young: 5, youngBytes: 5120, pinned: 2, pinnedBytes: 2048, nextEligibleInMs: 600_000 }).split('\n')
  assert.equal(lines.length, 4)
  assert.match(lines[2], /^kept 3 unused fragments \(3(\.\d+)? KiB\) younger than the grace period/)
  assert.match(lines[3], /^kept 2 unused fragments \(2(\.\d+)? KiB\) past the grace period, put while a file open for writing here had data its journal does not name yet: they can go once that file is closed or fsynced; run `palm gc` again then$/)
  const onlyPinned = formatGc({ ...base, young: 2, youngBytes: 2048, pinned: 2, pinnedBytes: 2048 }).split('\n')
  assert.equal(onlyPinned.length, 3, 'no grace-period line when every young fragment is pinned')
  assert.match(onlyPinned[2], /past the grace period/)
})
