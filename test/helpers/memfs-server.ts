/**
 * Child-process entry that serves MemFs on the FUSE binding (a process must never serve a mount and
 * use it: it would deadlock). Usage: node memfs-server.js <mountpoint> '<json ServerOptions>'.
 * Talks to its parent over IPC: sends { type: 'ready' } once mounted, answers { id, cmd } requests.
 * SIGTERM unmounts and exits 0.
 */
import { mount, type FuseMountOptions, type FuseSession } from '../../native/fuse/index.js'
import { MemFs, type MemFsOptions } from './memfs.js'
import { truncateData } from './memfs-node.js'

export interface ServerOptions {
  mount?: FuseMountOptions
  fs?: MemFsOptions
}

export type ServerCommand =
  | { id: number, cmd: 'stats' }
  | { id: number, cmd: 'unmount' }
  | { id: number, cmd: 'release-hangs' }
  | { id: number, cmd: 'populate', count: number, prefix: string }
  | { id: number, cmd: 'notify-entry', name: string }
  | { id: number, cmd: 'notify-inode', name: string }
  | { id: number, cmd: 'server-truncate', name: string, size: number }
  | { id: number, cmd: 'server-unlink', name: string }
  | { id: number, cmd: 'exit' }
  | { id: number, cmd: 'exit-mounted' }

function send (msg: unknown): void {
  process.send?.(msg)
}

async function main (): Promise<void> {
  const [mountpoint, json] = process.argv.slice(2)
  const options = JSON.parse(json ?? '{}') as ServerOptions
  const fs = new MemFs(options.fs)
  let session: FuseSession
  try {
    session = await mount(mountpoint, fs, options.mount)
  } catch (err) {
    send({ type: 'error', message: (err as Error).message, name: (err as Error).name })
    process.exit(2)
  }
  const ctx = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, pid: process.pid, umask: 0o022 }
  let stopping = false
  let unmountRequested = false
  // unmounted from outside (fusermount3 -u): nothing left to serve
  void session.closed.then(() => { if (!unmountRequested) void stop(0) })
  const stop = async (code: number): Promise<never> => {
    if (!stopping) { stopping = true; await session.unmount() }
    process.exit(code)
  }
  process.on('SIGTERM', () => { void stop(0) })
  process.on('disconnect', () => { void stop(0) })
  process.on('message', (m: ServerCommand) => {
    void (async () => {
      let value: unknown = null
      switch (m.cmd) {
        case 'stats': value = { fs: fs.snapshot(), binding: session.stats() }; break
        case 'unmount': unmountRequested = true; await session.unmount(); value = { fs: fs.snapshot(), binding: session.stats() }; break
        case 'release-hangs': fs.releaseHangs(); break
        case 'populate': {
          for (let i = 0; i < m.count; i++) {
            const e = await fs.create(ctx, 1, `${m.prefix}${i}`, 0o644)
            await fs.release(ctx, e.attr.ino, e.fh)
            fs.forget(e.attr.ino, 1) // created server-side: the kernel holds no reference
          }
          break
        }
        case 'notify-entry': session.notifyInvalEntry(1, m.name); break
        case 'notify-inode': session.notifyInvalInode(fs.rootChild(m.name).ino, 0, 0); break
        case 'server-truncate': truncateData(fs.rootChild(m.name), m.size); break
        case 'server-unlink': await fs.unlink(ctx, 1, m.name); break
        case 'exit': send({ id: m.id, value }); await stop(0); break
        case 'exit-mounted': process.exit(3) // no unmount: the binding's exit handler must clean up
      }
      send({ id: m.id, value })
    })().catch((err: Error) => { send({ id: m.id, error: err.message }) })
  })
  send({ type: 'ready', pid: process.pid })
}

void main()
