/**
 * Serves the ControlApi as JSON over HTTP on a unix socket (mode 0600: only this user). Errors
 * travel as `{ error: { name, code, message, details } }` and are rebuilt by the CLI client.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { chmod, rm } from 'node:fs/promises'
import type { Logger } from '@libp2p/interface'
import { InvalidArgumentError, isPalmError, NotFoundError } from '../errors.js'
import type { ControlApi, ProgressFn } from './control-api.js'

export interface ControlServer {
  close: () => Promise<void>
}

async function readBody (req: IncomingMessage, limitBytes = 1 << 20): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limitBytes) throw new InvalidArgumentError('control request body too large')
    chunks.push(chunk as Buffer)
  }
  if (size === 0) return {}
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (err) {
    throw new InvalidArgumentError('control request body is not JSON', { cause: err })
  }
}

function sendError (res: ServerResponse, err: unknown, log: Logger): void {
  const palm = isPalmError(err)
  if (!palm) log.error('control request failed %e', err)
  const e = err as any
  const body = {
    error: {
      name: palm ? e.name : 'Error',
      code: palm ? e.code : 'EIO',
      message: e?.message ?? String(err),
      details: palm ? e.details : {}
    }
  }
  res.writeHead(palm && e.code === 'ENOENT' ? 404 : palm ? 400 : 500, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

export async function startControlServer (socketPath: string, api: ControlApi, log: Logger): Promise<ControlServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://palm')
    const route = `${req.method ?? 'GET'} ${url.pathname}`
    log.trace('control %s', route)
    if (route === 'GET /v1/status') return json(res, await api.status())
    if (route === 'GET /v1/peers') return json(res, await api.peers())
    if (route === 'POST /v1/fsck') {
      const body = await readBody(req) as { repair?: boolean }
      return await withProgress(req, res, async (onProgress) => await api.fsck({ repair: body.repair === true, onProgress }))
    }
    if (route === 'POST /v1/remove') {
      const body = await readBody(req) as { device?: unknown }
      return json(res, await api.remove(typeof body.device === 'string' ? body.device : ''))
    }
    if (route === 'POST /v1/invite') {
      const body = await readBody(req) as { ttlMs?: number }
      return json(res, await api.invite(typeof body.ttlMs === 'number' ? { ttlMs: body.ttlMs } : {}))
    }
    if (route === 'POST /v1/gc') {
      const body = await readBody(req) as { dryRun?: boolean }
      return await withProgress(req, res, async (onProgress) => await api.gc({ dryRun: body.dryRun === true, onProgress }))
    }
    if (route === 'POST /v1/drain') {
      const body = await readBody(req) as { device?: string }
      return await withProgress(req, res, async (onProgress) => await api.drain(String(body.device ?? ''), { onProgress }))
    }
    if (route === 'GET /v1/info') return json(res, await api.info(url.searchParams.get('path') ?? '/'))
    if (route === 'POST /v1/stop') {
      json(res, { stopping: true })
      await api.stop()
      return
    }
    if (req.method === 'GET' && url.pathname.startsWith('/v1/fragments/')) {
      const bytes = await api.getFragment(decodeURIComponent(url.pathname.slice('/v1/fragments/'.length)))
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.byteLength })
      res.end(bytes)
      return
    }
    throw new NotFoundError(`no control route ${route}`)
  }
  const server: Server = createServer((req, res) => {
    handle(req, res).catch(err => { sendError(res, err, log) })
  })
  await rm(socketPath, { force: true })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(socketPath, () => { server.off('error', reject); resolve() })
  })
  await chmod(socketPath, 0o600)
  return {
    close: async () => {
      await new Promise<void>(resolve => { server.close(() => { resolve() }); server.closeAllConnections() })
      await rm(socketPath, { force: true })
    }
  }
}

/** Header by which a client asks for progress: the answer is then NDJSON lines (PROGRESS_STREAM). */
export const PROGRESS_HEADER = 'x-palm-progress'

/**
 * Runs a long task. Asked with PROGRESS_HEADER, the answer streams one JSON line per progress event
 * (at most every 200 ms) as `{"progress": …}`, then `{"result": …}` or `{"error": …}`; else plain JSON.
 */
async function withProgress (req: IncomingMessage, res: ServerResponse, task: (onProgress?: ProgressFn) => Promise<unknown>): Promise<void> {
  if (req.headers[PROGRESS_HEADER] == null) return json(res, await task())
  res.writeHead(200, { 'content-type': 'application/x-ndjson' })
  let last = 0
  const onProgress: ProgressFn = (p) => {
    const now = Date.now()
    if (now - last < 200 && p.done < p.total) return
    last = now
    res.write(JSON.stringify({ progress: p }) + '\n')
  }
  try {
    res.end(JSON.stringify({ result: await task(onProgress) }) + '\n')
  } catch (err) {
    const e = err as any
    res.end(JSON.stringify({ error: { name: isPalmError(err) ? e.name : 'Error', code: isPalmError(err) ? e.code : 'EIO', message: e?.message ?? String(err), details: isPalmError(err) ? e.details : {} } }) + '\n')
  }
}

function json (res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}
