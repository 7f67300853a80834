/**
 * The seeded random differential workload (test/compliance/differential.ts) through a real mount:
 * `palm mount` runs as a child process with 64 KiB stripes (so that multi-stripe files, partial
 * writes and holes are common), and every step is compared with a local directory. A failure prints
 * the seed (PALM_DIFF_SEED) to replay it.
 */
import { it } from 'node:test'
import { runDifferential } from '../compliance/differential.js'
import { FsPosixTarget } from '../helpers/fs-posix-target.js'
import { createPalmHome, skipWithoutFuse, startMount, testEnv } from '../helpers/palm.js'
import { createTempDir, onCleanup } from '../helpers/tmp.js'

const STRIPE = 64 * 1024

it('a real mount matches a local directory over thousands of random operations', { skip: skipWithoutFuse(), timeout: 30 * 60_000 }, async (t) => {
  const home = await createPalmHome(t, [], testEnv({ PALM_STRIPE_SIZE: String(STRIPE) }))
  const m = await startMount(t, home, { env: testEnv({ PALM_WRITE_BUFFER: '1M', PALM_CACHE_SIZE: '2M' }) })
  const mounted = new FsPosixTarget(m.mountpoint)
  const local = new FsPosixTarget(await createTempDir(t, 'palm-diff-local-'))
  onCleanup(t, async () => { await mounted.closeAll(); await local.closeAll() })
  await runDifferential(mounted, local, { stripeBytes: STRIPE })
})
