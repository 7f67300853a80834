/**
 * The POSIX suite against a local directory through node:fs: proof that the suite's expectations
 * are those of a real Linux file system, so that the VFS passing it means something.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { posixTests } from '../../compliance/posix-tests.js'
import { FsPosixTarget } from '../../helpers/fs-posix-target.js'
import type { PosixTarget } from '../../compliance/posix-target.js'

posixTests({
  setup: async (options) => {
    if (options.capacityBytes != null) return undefined
    return new FsPosixTarget(await mkdtemp(join(tmpdir(), 'palm-posix-local-')))
  },
  teardown: async (target: PosixTarget) => {
    const t = target as FsPosixTarget
    await t.closeAll()
    await rm(t.root, { recursive: true, force: true })
  }
})
