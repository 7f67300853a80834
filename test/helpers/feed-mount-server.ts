/**
 * Child-process entry for the remote-change mount tests: two devices (test/helpers/two-devices.ts:
 * two SQLite journals, two VFSs, one local StripeIO over one fragment directory), device B's VFS
 * mounted with PALM's FUSE layer (src/fuse mountVfs, which wires the kernel notifier). The parent
 * drives device A over IPC; after each change A's new ops are applied to B's journal with applyRemote
 * while the mount is live, as replication will. A process must never serve a mount and use it,
 * hence this child.
 *   node feed-mount-server.js <mountpoint> <workdir> '<json { entryTimeoutSec, attrTimeoutSec }>'
 * Sends { type: 'ready' } once mounted; answers { id, cmd } with { id, value } or { id, error }.
 * SIGTERM (or the parent going away) unmounts, closes everything and exits 0.
 */
import '../../src/util/polyfill.js'
import { mountVfs, type MountedFs } from '../../src/fuse/index.js'
import { prefixLogger } from '../../src/util/logger.js'
import { openTwoDevices, type TwoDevices } from './two-devices.js'

export type FeedCommand =
  | { id: number, cmd: 'write', path: string, data: string }
  | { id: number, cmd: 'mkdir', path: string }
  | { id: number, cmd: 'rename', from: string, to: string }
  | { id: number, cmd: 'unlink', path: string }
  /** `rounds` × (create `name<i>`, rename it over `name<i-1>`…): each round shipped on its own. */
  | { id: number, cmd: 'churn', prefix: string, names: number, rounds: number }
  | { id: number, cmd: 'stats' }

export interface FeedServerOptions {
  entryTimeoutSec?: number
  attrTimeoutSec?: number
}

function send (msg: unknown): void {
  process.send?.(msg)
}

async function run (d: TwoDevices, m: FeedCommand): Promise<unknown> {
  const a = d.a.target
  switch (m.cmd) {
    case 'write': await a.writeFile(m.path, Buffer.from(m.data, 'base64')); break
    case 'mkdir': await a.mkdir(m.path); break
    case 'rename': await a.rename(m.from, m.to); break
    case 'unlink': await a.unlink(m.path); break
    case 'churn': {
      // Names rotate: each round writes one name new and renames another over a third, so the
      // kernel's dentries of these names are invalidated again and again.
      let shipped = 0
      for (let r = 0; r < m.rounds; r++) {
        const i = r % m.names
        const j = (r + 1) % m.names
        await a.writeFile(`/${m.prefix}${i}`, Buffer.from(`round ${r}`))
        await a.rename(`/${m.prefix}${i}`, `/${m.prefix}${j}`)
        shipped += await d.ship()
      }
      return { shipped }
    }
    case 'stats': return null
  }
  return { shipped: await d.ship() }
}

async function main (): Promise<void> {
  const [mountpoint, workdir, json] = process.argv.slice(2)
  const options = JSON.parse(json ?? '{}') as FeedServerOptions
  let d: TwoDevices | undefined
  let mounted: MountedFs | undefined
  try {
    d = await openTwoDevices({ dir: workdir })
    mounted = await mountVfs(d.b.vfs, { mountpoint, entryTimeoutSec: options.entryTimeoutSec, attrTimeoutSec: options.attrTimeoutSec }, { logger: prefixLogger('dev-b') })
  } catch (err) {
    send({ type: 'error', message: (err as Error).message })
    await d?.close()
    process.exit(2)
  }
  const devices = d
  const mount = mounted
  let stopping = false
  const stop = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true
      await mount.unmount().catch(() => {})
      await devices.close()
    }
    process.exit(code)
  }
  void mount.closed.then(() => { void stop(0) })
  process.on('SIGTERM', () => { void stop(0) })
  process.on('disconnect', () => { void stop(0) })
  // Requests are handled one at a time, in order.
  let chain = Promise.resolve()
  process.on('message', (m: FeedCommand) => {
    chain = chain.then(async () => {
      try {
        const value = m.cmd === 'stats' ? { notifier: mount.notifier, binding: mount.session.stats() } : await run(devices, m)
        send({ id: m.id, value })
      } catch (err) {
        send({ id: m.id, error: `${(err as Error).name}: ${(err as Error).message}` })
      }
    })
  })
  send({ type: 'ready' })
}

void main()
