/**
 * The ControlApi over the home's unix socket: what the CLI uses to reach a running daemon.
 * Errors come back as the PalmError they were in the daemon (same name, code, message).
 */
import { request } from 'node:http'
import { NotConnectedError, PalmError, TimeoutError, type ErrorCode } from '../errors.js'
import type { ControlApi, ProgressFn } from './control-api.js'

export interface ControlClientInit {
  socketPath: string
  /** Per-request timeout (default 60 s; fsck may take longer: it passes its own). */
  timeoutMs?: number
}

function rebuildError (body: any, status: number): Error {
  const e = body?.error
  if (e == null) return new PalmError(`daemon answered HTTP ${status}`, 'EIO')
  const err = new PalmError(String(e.message), (e.code ?? 'EIO') as ErrorCode, { details: e.details })
  err.name = String(e.name ?? 'PalmError')
  return err
}

async function call (init: ControlClientInit, method: string, path: string, body?: unknown, timeoutMs?: number): Promise<Buffer> {
  return await new Promise<Buffer>((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const req = request({
      socketPath: init.socketPath,
      method,
      path,
      headers: payload == null ? {} : { 'content-type': 'application/json', 'content-length': payload.length },
      timeout: timeoutMs ?? init.timeoutMs ?? 60_000
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => {
        const data = Buffer.concat(chunks)
        if ((res.statusCode ?? 500) >= 300) {
          let parsed: unknown
          try { parsed = JSON.parse(data.toString('utf8')) } catch { parsed = undefined }
          reject(rebuildError(parsed, res.statusCode ?? 500))
        } else {
          resolve(data)
        }
      })
    })
    req.on('timeout', () => { req.destroy(new TimeoutError(`the PALM daemon did not answer ${method} ${path} in time; see its log`)) })
    req.on('error', (err: any) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        reject(new NotConnectedError(`no PALM daemon is running for this home (${init.socketPath})`, { cause: err }))
      } else {
        reject(err)
      }
    })
    req.end(payload)
  })
}

/** A long task with progress: NDJSON lines `{progress}`… then `{result}` or `{error}` (control-server.ts). */
async function callWithProgress<T> (init: ControlClientInit, path: string, body: unknown, onProgress: ProgressFn, timeoutMs: number): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body))
    const req = request({
      socketPath: init.socketPath,
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json', 'content-length': payload.length, 'x-palm-progress': '1' },
      timeout: timeoutMs
    }, (res) => {
      if ((res.statusCode ?? 500) >= 300) {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          let parsed: unknown
          try { parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) } catch { parsed = undefined }
          reject(rebuildError(parsed, res.statusCode ?? 500))
        })
        return
      }
      let rest = ''
      let settled = false
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        rest += chunk
        let nl: number
        while ((nl = rest.indexOf('\n')) >= 0) {
          const line = rest.slice(0, nl)
          rest = rest.slice(nl + 1)
          if (line.trim() === '') continue
          const msg = JSON.parse(line)
          if (msg.progress != null) onProgress(msg.progress)
          else if ('result' in msg) { settled = true; resolve(msg.result as T) } else if (msg.error != null) { settled = true; reject(rebuildError(msg, 500)) }
        }
      })
      res.on('error', reject)
      res.on('end', () => { if (!settled) reject(new PalmError(`the PALM daemon ended ${path} without a result; see its log`, 'EIO')) })
    })
    req.on('timeout', () => { req.destroy(new TimeoutError(`the PALM daemon did not answer POST ${path} in time; see its log`)) })
    req.on('error', (err: any) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new NotConnectedError(`no PALM daemon is running for this home (${init.socketPath})`, { cause: err }))
      else reject(err)
    })
    req.end(payload)
  })
}

async function callJson<T> (init: ControlClientInit, method: string, path: string, body?: unknown, timeoutMs?: number): Promise<T> {
  return JSON.parse((await call(init, method, path, body, timeoutMs)).toString('utf8')) as T
}

export function controlClient (init: ControlClientInit): ControlApi {
  return {
    status: async () => await callJson(init, 'GET', '/v1/status'),
    peers: async () => await callJson(init, 'GET', '/v1/peers'),
    fsck: async (options = {}) => options.onProgress != null
      ? await callWithProgress(init, '/v1/fsck', { repair: options.repair }, options.onProgress, 24 * 3_600_000)
      : await callJson(init, 'POST', '/v1/fsck', { repair: options.repair }, 24 * 3_600_000),
    remove: async (device) => await callJson(init, 'POST', '/v1/remove', { device }),
    invite: async (options = {}) => await callJson(init, 'POST', '/v1/invite', { ttlMs: options.ttlMs }),
    stop: async () => await callJson(init, 'POST', '/v1/stop'),
    gc: async (options = {}) => options.onProgress != null
      ? await callWithProgress(init, '/v1/gc', { dryRun: options.dryRun }, options.onProgress, 3_600_000)
      : await callJson(init, 'POST', '/v1/gc', { dryRun: options.dryRun }, 3_600_000),
    info: async (path) => await callJson(init, 'GET', `/v1/info?path=${encodeURIComponent(path)}`),
    drain: async (device, options = {}) => options.onProgress != null
      ? await callWithProgress(init, '/v1/drain', { device }, options.onProgress, 7 * 24 * 3_600_000)
      : await callJson(init, 'POST', '/v1/drain', { device }, 7 * 24 * 3_600_000),
    getFragment: async (cid) => new Uint8Array(await call(init, 'GET', `/v1/fragments/${encodeURIComponent(cid)}`))
  }
}

/** True when a daemon answers on the socket. */
export async function daemonRunning (socketPath: string): Promise<boolean> {
  try {
    await call({ socketPath, timeoutMs: 5000 }, 'GET', '/v1/status')
    return true
  } catch (err) {
    if (err instanceof NotConnectedError) return false
    return true
  }
}
