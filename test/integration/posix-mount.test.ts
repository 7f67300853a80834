/**
 * The POSIX suite (test/compliance/posix-tests.ts) through a real PALM mount: `palm mount` runs as a
 * child process, and this process uses the mount with node:fs and the usual tools.
 */
import { posixTests, type PosixTarget } from '../compliance/posix-tests.js'
import { buildRenameat2, FsPosixTarget } from '../helpers/fs-posix-target.js'
import { createPalmHome, skipWithoutFuse, startMount } from '../helpers/palm.js'
import { CleanupScope } from '../helpers/scope.js'
import { createTempDir } from '../helpers/tmp.js'
import { describe } from 'node:test'

const scopes = new Map<PosixTarget, CleanupScope>()

describe('POSIX suite through a real mount', { skip: skipWithoutFuse() }, () => {
  posixTests({
    setup: async (options) => {
      const scope = new CleanupScope()
      try {
        const home = await createPalmHome(scope, options.capacityBytes != null ? ['--capacity', String(options.capacityBytes)] : [])
        const m = await startMount(scope, home)
        const target = new FsPosixTarget(m.mountpoint, { palmXattrs: true }, await buildRenameat2(await createTempDir(scope, 'palm-r2-')))
        scopes.set(target, scope)
        return target
      } catch (err) {
        await scope.close()
        throw err
      }
    },
    teardown: async (target) => {
      await (target as FsPosixTarget).closeAll()
      await scopes.get(target)?.close()
    }
  })
})
