/**
 * `palm gc` says what it deleted and what it kept and why (files still use them, the grace period),
 * `--dry-run` deletes nothing, and a running daemon streams fsck/gc progress to the CLI.
 */
import assert from 'node:assert/strict'
import { unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { createPalmHome, palm, skipWithoutFuse, startMount, testEnv } from '../helpers/palm.js'
import { controlClient } from '../../src/daemon/control-client.js'
import type { ProgressEvent } from '../../src/daemon/control-api.js'

it('gc keeps young and used fragments and says why; --dry-run deletes nothing; progress streams from the daemon', { skip: skipWithoutFuse(), timeout: 180_000 }, async (t) => {
  const home = await createPalmHome(t)
  const m = await startMount(t, home)
  await writeFile(join(m.mountpoint, 'a.bin'), Buffer.alloc(100_000, 1))
  await writeFile(join(m.mountpoint, 'b.bin'), Buffer.alloc(100_000, 2))
  await unlink(join(m.mountpoint, 'a.bin'))

  // Within the default one-hour grace: nothing goes, and gc says so.
  const dry = await palm(['gc', '--dry-run', '--home', home])
  assert.equal(dry.code, 0, dry.stderr)
  const lines = dry.stdout.trimEnd().split('\n')
  assert.equal(lines[0], 'would delete 0 unused fragments (0 B) of the 12 on this device; nothing was deleted (--dry-run)')
  assert.equal(lines[1], 'kept 6 fragments that files still use')
  assert.match(lines[2], /^kept 6 unused fragments \(\d+(\.\d+)? KiB\) younger than the grace period of 1 h \(a write may not have reached the journal yet\): the first can go in (59 min|1 h): run `palm gc` again then \(a running daemon also collects on its own; PALM_GC_GRACE sets the grace\)$/)
  assert.equal(lines.length, 3)
  const json = await palm(['gc', '--home', home, '--json'])
  assert.equal(json.code, 0, json.stderr)
  const r = JSON.parse(json.stdout)
  assert.deepEqual([r.deleted, r.dryRun, r.scanned, r.referenced, r.foreign, r.young, r.graceMs], [0, false, 12, 6, 0, 6, 3_600_000])
  assert.ok(r.nextEligibleInMs > 3_000_000 && r.nextEligibleInMs <= 3_600_000, String(r.nextEligibleInMs))

  // The daemon streams progress to a client that asks for it, then the result.
  const api = controlClient({ socketPath: join(home, 'run', 'palm.sock') })
  const events: ProgressEvent[] = []
  const report = await api.fsck({ onProgress: (p) => events.push(p) })
  assert.equal(report.clean, true)
  assert.deepEqual(events.at(-1), { task: 'fsck', phase: 'checking stripes', done: 1, total: 1, unit: 'stripes' })
  const gcEvents: ProgressEvent[] = []
  await api.gc({ dryRun: true, onProgress: (p) => gcEvents.push(p) })
  assert.deepEqual(gcEvents.at(-1), { task: 'gc', phase: 'scanning fragments', done: 12, total: 12, unit: 'fragments' })

  // With no grace (in-process, daemon stopped), the unused fragments go and the used ones stay.
  assert.equal(await m.stop(), 0)
  const env = testEnv({ PALM_GC_GRACE: '0' })
  const dry0 = await palm(['gc', '--dry-run', '--home', home], { env })
  assert.match(dry0.stdout, /^would delete 6 unused fragments \(\d+(\.\d+)? KiB\) of the 12 on this device; nothing was deleted \(--dry-run\)\nkept 6 fragments that files still use\n$/)
  const real = await palm(['gc', '--home', home], { env })
  assert.match(real.stdout, /^deleted 6 unused fragments, \d+(\.\d+)? KiB freed, of the 12 on this device\nkept 6 fragments that files still use\n$/)
  assert.equal(JSON.parse((await palm(['status', '--home', home, '--json'])).stdout).fragments, 6)
  assert.equal((await palm(['fsck', '--home', home])).code, 0)
})
