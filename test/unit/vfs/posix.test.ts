/**
 * The POSIX suite against the VFS in-process (real SQLite meta, chunk pool, store and StripeIO).
 */
import { posixTests } from '../../compliance/posix-tests.js'
import { openVfsStack, type VfsStack } from './stack.js'
import type { PosixTarget } from '../../compliance/posix-target.js'

const stacks = new Map<PosixTarget, VfsStack>()

posixTests({
  setup: async (options) => {
    const stack = await openVfsStack(options.capacityBytes != null ? { capacityBytes: options.capacityBytes } : {})
    stacks.set(stack.target, stack)
    return stack.target
  },
  teardown: async (target) => {
    await stacks.get(target)?.close()
    stacks.delete(target)
  }
})
