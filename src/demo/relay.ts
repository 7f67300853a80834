/**
 * Starts page-relay.js inside a device's namespace with a socket listening on the host's
 * 127.0.0.1 (the default page port, or any free one when it is taken), so the page the device
 * serves in its namespace opens in the host's browser at the same address.
 */
import { spawn } from 'node:child_process'
import { open } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { fileURLToPath } from 'node:url'
import { PalmError } from '../errors.js'
import { inNamespace } from './netns.js'

const RELAY_MAIN = fileURLToPath(new URL('./page-relay.js', import.meta.url))
/** The status page's default port (the daemon's own default, DASHBOARD_DEFAULT_PORT). */
const PAGE_PORT = 7256

async function listenOn (server: Server, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
}

export async function startPageRelay (ns: string, logFile: string): Promise<{ pid: number, port: number }> {
  const server = createServer()
  try {
    await listenOn(server, PAGE_PORT)
  } catch (err: any) {
    if (err.code !== 'EADDRINUSE') throw err
    await listenOn(server, 0)
  }
  const addr = server.address()
  const port = typeof addr === 'object' && addr != null ? addr.port : 0
  const fd: number | undefined = (server as any)._handle?.fd
  if (typeof fd !== 'number' || fd < 0) {
    server.close()
    throw new PalmError('cannot hand the page socket to the relay (no file descriptor); run the demo with --loopback', 'EIO')
  }
  const log = await open(logFile, 'a')
  const [file, args] = inNamespace(ns, [process.execPath, RELAY_MAIN, String(port)])
  const child = spawn(file, args, { detached: true, stdio: ['ignore', log.fd, log.fd, fd] })
  const started = new Promise<void>(resolve => { child.once('spawn', resolve); child.once('error', () => { resolve() }) })
  await log.close()
  child.unref()
  // Once spawned, the child holds its own copy of the listening socket.
  await started
  server.close()
  if (child.pid == null) throw new PalmError(`the page relay did not start (nsenter into ${ns}); see ${logFile}`, 'EIO')
  return { pid: child.pid, port }
}
