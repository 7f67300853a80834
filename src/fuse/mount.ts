/**
 * Mounts a VFS with PALM's FUSE binding (native/fuse, libfuse 3 low-level API): recovers a stale
 * mount at the mountpoint first, then mounts with the options PALM relies on (default_permissions,
 * fsname `palm:<home>` (given by the daemon) or palm, subtype palm, 1 MiB writes, kernel caches with
 * PALM's timeouts).
 */
import { mkdir } from 'node:fs/promises'
import type { ComponentLogger } from '@libp2p/interface'
import type { FuseSession } from '../../native/fuse/types.js'
import type { Vfs } from '../vfs/types.js'
import { KernelNotifier, type NotifierStats } from './notify.js'
import { createFuseOps, longOpTimeoutMs, type FuseOpsInit } from './ops.js'

export interface MountInit extends Omit<FuseOpsInit, 'direntSize'> {
  mountpoint: string
  /** The mount's source in /proc/self/mountinfo: names the home it belongs to (default 'palm'). */
  fsname?: string
  /** Let other users use the mount (default false). */
  allowOther?: boolean
  /** libfuse debug output (default false). */
  debug?: boolean
}

export interface MountedFs {
  session: FuseSession
  mountpoint: string
  unmount: () => Promise<void>
  /** Resolves when the mount is gone (unmounted here, or from outside with fusermount -u). */
  closed: Promise<void>
  /** Kernel invalidations sent for remote changes (notify.ts). */
  notifier: NotifierStats
}

/** Loads the binding lazily so commands that do not mount never need it. */
async function binding (): Promise<typeof import('../../native/fuse/index.js')> {
  return await import('../../native/fuse/index.js')
}

/** True when `path` is a FUSE mount whose server is gone ("Transport endpoint is not connected"). */
export async function isStaleMount (path: string): Promise<boolean> {
  return await (await binding()).isStaleMount(path)
}

/** Aborts a stale FUSE connection at `path` and unmounts it lazily. Never hangs. */
export async function recoverStaleMount (path: string): Promise<void> {
  await (await binding()).recoverStaleMount(path)
}

/** Unmounts `path` (lazily if busy). */
export async function unmountPath (path: string): Promise<void> {
  await (await binding()).unmountPath(path)
}

export async function mountVfs (vfs: Vfs, init: MountInit, components: { logger: ComponentLogger }): Promise<MountedFs> {
  const log = components.logger.forComponent('palm:fuse')
  const native = await binding()
  // Only a stale mount of our own (same source, or the old plain `palm`) is recovered; another
  // home's is left alone, and mounting over it fails with a line that names it.
  const source = (await native.findMount(init.mountpoint))?.source
  if ((source === (init.fsname ?? 'palm') || source === 'palm') && await native.isStaleMount(init.mountpoint)) {
    log('%s is a stale mount (its daemon died): recovering it', init.mountpoint)
    await native.recoverStaleMount(init.mountpoint)
  }
  await mkdir(init.mountpoint, { recursive: true })
  const ops = createFuseOps(vfs, log, { ...init, direntSize: native.direntSize })
  const session = await native.mount(init.mountpoint, ops, {
    fsname: init.fsname ?? 'palm',
    subtype: 'palm',
    defaultPermissions: true,
    allowOther: init.allowOther ?? false,
    maxWriteBytes: 1 << 20,
    entryTimeoutSec: init.entryTimeoutSec,
    attrTimeoutSec: init.attrTimeoutSec,
    debug: init.debug,
    // PALM's own deadlines (src/fuse/ops.ts) answer first, with EIO and a log line that says why.
    timeoutMs: longOpTimeoutMs(init.opTimeoutMs) + 5000
  })
  // Another device's changes reach the kernel through notifications, sent off the op path (notify.ts).
  const notifier = new KernelNotifier(session, components.logger.forComponent('palm:fuse:notify'))
  const unsubscribe = vfs.onInvalidate((inv) => { notifier.queue(inv) })
  const closed = session.closed.then(() => { unsubscribe(); notifier.close() })
  log('mounted %s', init.mountpoint)
  return {
    session,
    mountpoint: init.mountpoint,
    unmount: async () => { unsubscribe(); notifier.close(); await session.unmount() },
    closed,
    notifier: notifier.stats
  }
}
