/**
 * The status page of a namespace demo, brought to the host: the page's daemon serves 127.0.0.1:PORT
 * inside its device's namespace, which the host's browser cannot reach. This program runs inside
 * that namespace (started with nsenter) and is handed, as fd 3, a socket listening on the host's
 * 127.0.0.1:PORT (a socket keeps the namespace it was made in). Each connection to it is piped to
 * 127.0.0.1:PORT inside the namespace, byte for byte: the token and Host checks stay the daemon's.
 *
 * Usage (by demo.ts only): node page-relay.js PORT, with the listening socket as fd 3.
 */
import { createConnection, createServer } from 'node:net'

const port = Number(process.argv[2])
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('page-relay: needs the page PORT, and a listening socket as fd 3\n')
  process.exit(2)
}
const server = createServer({ pauseOnConnect: true }, (client) => {
  const upstream = createConnection({ host: '127.0.0.1', port }, () => { client.resume() })
  client.pipe(upstream).pipe(client)
  const end = (): void => { client.destroy(); upstream.destroy() }
  client.on('error', end).on('close', end)
  upstream.on('error', end).on('close', end)
})
server.listen({ fd: 3 })
const stop = (): void => { server.close(); process.exit(0) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
