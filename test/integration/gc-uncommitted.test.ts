/**
 * GC never deletes what an open file stored and has not committed yet. A sequential writer's full
 * stripes are stored in the background while the file stays open; their fragments are in the
 * store but in no journal op until the close. With no grace period and GC every second, a GC pass
 * while the file is open used to delete them, and the close then recorded a file whose first
 * stripe was gone (the LAN namespace test lost a file that way, with a 5 s grace and a placement
 * slowed by a partition).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { open, readFile, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { createPalmHome, palm, skipWithoutFuse, startMount, testEnv } from '../helpers/palm.js'

const STRIPE = 4 * 1024 * 1024

it('keeps the stored stripes of a file still open through GC passes with no grace, and the file reads back whole', { skip: skipWithoutFuse(), timeout: 180_000 }, async (t) => {
  const home = await createPalmHome(t)
  const env = testEnv({ PALM_GC_GRACE: '0s', PALM_GC_INTERVAL: '1s' })
  let m = await startMount(t, home, { env })
  // Garbage first, and a GC pass that deletes it: GC runs, with no grace.
  await writeFile(join(m.mountpoint, 'gone.bin'), randomBytes(10_000))
  await unlink(join(m.mountpoint, 'gone.bin'))
  const until = Date.now() + 60_000
  while (!m.output().includes('garbage collection deleted')) {
    if (Date.now() > until) throw new Error(`no GC pass deleted anything within 60 s:\n${m.output()}`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }

  const data = randomBytes(2 * STRIPE + 1000)
  const fh = await open(join(m.mountpoint, 'open.bin'), 'w')
  try {
    // Two full stripes: each is stored as soon as it is full, while the file stays open.
    await fh.write(data.subarray(0, 2 * STRIPE), 0, 2 * STRIPE, 0)
    // A few more passes (one a second) while the stored stripes are still uncommitted.
    await new Promise(resolve => setTimeout(resolve, 3000))
    await fh.write(data.subarray(2 * STRIPE), 0, 1000, 2 * STRIPE)
  } finally {
    await fh.close()
  }
  // A fresh daemon (no read cache) reads every stripe from the fragment store.
  assert.equal(await m.stop(), 0)
  m = await startMount(t, home, { env })
  assert.ok((await readFile(join(m.mountpoint, 'open.bin'))).equals(data), 'the file reads back byte-exact')
  assert.equal(await m.stop(), 0)
  const fsck = await palm(['fsck', '--home', home], { env })
  assert.equal(fsck.code, 0, `fsck: ${fsck.stdout}${fsck.stderr}`)
})
