/**
 * The seeded random differential workload (test/compliance/differential.ts) against the VFS
 * in-process, with small stripes and a small dirty budget so that multi-stripe files, partial writes
 * and early stores are common. The same workload runs through a real mount in test/integration.
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { runDifferential } from '../../compliance/differential.js'
import { FsPosixTarget } from '../../helpers/fs-posix-target.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'
import { createVfsStack } from './stack.js'

const STRIPE = 64 * 1024

it('matches a local directory over thousands of random operations', { timeout: 30 * 60_000 }, async (t) => {
  const stack = await createVfsStack(t, { vfs: { stripeSizeBytes: STRIPE, dirtyLimitBytes: 256 * 1024, cacheLimitBytes: 512 * 1024 } })
  const local = new FsPosixTarget(await createTempDir(t, 'palm-diff-'))
  onCleanup(t, async () => { await local.closeAll() })
  let step = 0
  await runDifferential(stack.target, local, {
    stripeBytes: STRIPE,
    afterStep: () => {
      assert.equal(stack.target.openFds, 0)
      if (process.env.PALM_DIFF_PROGRESS != null && ++step % 500 === 0) {
        const st = stack.vfs.stats()
        console.error(`step ${step}: inodes ${st.trackedInodes}, handles ${st.openHandles}, open files ${st.openFiles}, stored ${st.stripesStored}, ops ${stack.meta.stats().ops}`)
      }
    }
  })
})
