/**
 * The status web app: served on 127.0.0.1 only, on a stable port (setting dashboardPort; a taken
 * default port falls back to a free one), and only to requests that carry the token kept in the
 * home (`<home>/dashboard.token`, mode 0600) and name 127.0.0.1/localhost as Host (a page on another
 * site cannot reach it, nor a DNS-rebinding one). `palm status` prints the URL with the token.
 *
 * Views (dashboard-page.ts): devices (with repair's state and the drain and remove actions),
 * protection with a what-if per device and repair's progress, a folder browser with per-file health
 * and share map, recent events. Live: the page holds one server-sent-events stream
 * fed by the journal's change feed and the membership's peer events, and refetches only the view a
 * change touches.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Logger } from '@libp2p/interface'
import { PalmError } from '../errors.js'
import type { DrainReport, FsckReport, InviteReport, ProgressFn, RemoveReport, StatusReport } from './control-api.js'
import type { DaemonParts } from './daemon.js'
import { deviceRows, folderView, protectionView, shareMap } from './dashboard-data.js'
import { DASHBOARD_PAGE } from './dashboard-page.js'
import { writeFileAtomic } from './home.js'

/** The default port of the status page ("PALM" on a phone keypad). */
export const DASHBOARD_DEFAULT_PORT = 7256
/** Recent events kept for the page. */
const MAX_EVENTS = 200
/** Peer announcements arrive every gossip interval: devices are pushed at most this often. */
const DEVICES_PUSH_MS = 1000
const FILES_PUSH_MS = 500
/** How often repair's counters are looked at for events (rebuilt, corruption found, a device gone). */
const REPAIR_WATCH_MS = 2000
/** A running check's progress is pushed at most this often. */
const PROGRESS_PUSH_MS = 250

export interface DashboardEvent {
  atMs: number
  kind: 'device joined' | 'device left' | 'device back' | 'files changed' | 'check' | 'repair' | 'corruption' | 'started'
  text: string
}

export interface Dashboard {
  /** The page's URL, with the token. */
  url: string
  /** Adds a line to the recent events (and pushes it to open pages). */
  event: (kind: DashboardEvent['kind'], text: string) => void
  close: () => Promise<void>
}

export interface DashboardInit {
  port: number
  /** The port is the default one: when taken, use any free port instead of failing. */
  fallback: boolean
  tokenFile: string
  deviceName: string
  status: () => Promise<StatusReport>
  parts: DaemonParts
  /** What the page's buttons do (each confirmed in the page first). */
  actions: {
    /** `onProgress` feeds the page's progress bar (pushed as `progress` events). */
    check: (onProgress: ProgressFn) => Promise<FsckReport>
    invite: () => Promise<InviteReport>
    /** `palm drain DEVICE`: its progress feeds the bar too. */
    drain: (device: string, onProgress: ProgressFn) => Promise<DrainReport>
    /** `palm remove DEVICE`. */
    remove: (device: string) => Promise<RemoveReport>
  }
  log: Logger
}

/** The token in the home, made on first use. */
export async function dashboardToken (file: string): Promise<string> {
  try {
    const t = (await readFile(file, 'utf8')).trim()
    if (/^[A-Za-z0-9_-]{20,}$/.test(t)) return t
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw err
  }
  const token = randomBytes(18).toString('base64url')
  await writeFileAtomic(file, token + '\n', 0o600)
  return token
}

function sameSecret (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

function send (res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' }).end(body)
}

async function listen (server: Server, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
}

export async function startDashboard (init: DashboardInit): Promise<Dashboard> {
  const { parts, log } = init
  const token = await dashboardToken(init.tokenFile)
  const events: DashboardEvent[] = []
  const streams = new Set<ServerResponse>()
  let port = init.port
  /** The long action running (check or drain): one at a time, a second is told, not queued. */
  let running: string | undefined
  const push = (name: string, data: unknown): void => {
    const frame = `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`
    for (const s of streams) s.write(frame)
  }
  const event = (kind: DashboardEvent['kind'], text: string): void => {
    const e = { atMs: Date.now(), kind, text }
    events.push(e)
    if (events.length > MAX_EVENTS) events.shift()
    push('event', e)
  }
  /** A push of `name` at most every `ms` (the page refetches that view). */
  const throttled = (name: string, ms: number): () => void => {
    let timer: NodeJS.Timeout | undefined
    return () => {
      timer ??= setTimeout(() => { timer = undefined; push(name, { atMs: Date.now() }) }, ms)
    }
  }
  const devicesChanged = throttled('devices', DEVICES_PUSH_MS)
  const filesChanged = throttled('files', FILES_PUSH_MS)

  /** Runs a long action, its progress pushed to the pages; undefined (409 sent) when one runs already. */
  const long = async <T>(res: ServerResponse, what: string, task: string, unit: string, fn: (progress: ProgressFn) => Promise<T>): Promise<T | undefined> => {
    if (running != null) { send(res, 409, 'text/plain', `${running} is already running; its progress shows on the page\n`); return undefined }
    running = what
    let lastPushMs = 0
    let last = { done: 0, total: 0 }
    try {
      const r = await fn((p) => {
        last = p
        const now = Date.now()
        if (now - lastPushMs < PROGRESS_PUSH_MS && p.done < p.total) return
        lastPushMs = now
        push('progress', p)
      })
      return r
    } finally {
      running = undefined
      push('progress', { task, phase: 'done', done: last.done, total: last.total, unit })
    }
  }

  const hostOk = (req: IncomingMessage): boolean => {
    const host = req.headers.host ?? ''
    return host === `127.0.0.1:${port}` || host === `localhost:${port}`
  }

  const api = async (path: string, url: URL): Promise<unknown> => {
    if (path === '/api/status') return await init.status()
    if (path === '/api/devices') return deviceRows(parts, init.deviceName)
    if (path === '/api/protection') {
      // Spread progress: fragments written elsewhere while their device was away, waiting to go to it;
      // repair's: stripes below n by margin, bytes to move, rate, the last scrub.
      const status = await init.status()
      return { ...await protectionView(parts, deviceRows(parts, init.deviceName)), pendingSpread: status.protectionDetail.pendingSpread, repair: status.repair ?? null }
    }
    if (path === '/api/folder') return await folderView(parts, url.searchParams.get('path') ?? '/')
    if (path === '/api/file') return await shareMap(parts, init.deviceName, url.searchParams.get('path') ?? '/')
    if (path === '/api/events') return events
    return undefined
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!hostOk(req)) return send(res, 403, 'text/plain', 'refused: this page answers only to http://127.0.0.1 or http://localhost\n')
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`)
    const given = url.searchParams.get('token') ?? ''
    if (!sameSecret(given, token)) return send(res, 403, 'text/plain', 'refused: open the address `palm status` prints (it carries the token)\n')
    if (req.method === 'POST' && url.pathname === '/api/check') {
      const r = await long(res, 'a check', 'fsck', 'stripes', async (progress) => await init.actions.check(progress))
      if (r != null) send(res, 200, 'application/json', JSON.stringify({ clean: r.clean, stripesChecked: r.stripesChecked, counts: r.counts, repaired: r.repaired }))
      return
    }
    if (req.method === 'POST' && url.pathname === '/api/invite') return send(res, 200, 'application/json', JSON.stringify(await init.actions.invite()))
    if (req.method === 'POST' && (url.pathname === '/api/drain' || url.pathname === '/api/remove')) {
      const device = url.searchParams.get('device') ?? ''
      if (device === '') return send(res, 400, 'text/plain', 'name the device: ?device=NAME or id\n')
      try {
        if (url.pathname === '/api/remove') {
          const r = await init.actions.remove(device)
          event('repair', `${r.name !== '' ? r.name : r.id} was removed from the swarm; its fragments are rebuilt elsewhere`)
          return send(res, 200, 'application/json', JSON.stringify(r))
        }
        const r = await long(res, 'a check or drain', 'drain', 'stripes', async (progress) => await init.actions.drain(device, progress))
        if (r == null) return
        event('repair', `drained ${device}: no file needs it any more, it may be wiped`)
        return send(res, 200, 'application/json', JSON.stringify(r))
      } catch (err) {
        // A refusal (unknown device, this device, no pool): the page shows its one line.
        if (err instanceof PalmError && !res.headersSent) return send(res, 400, 'text/plain', `${err.message}\n`)
        throw err
      }
    }
    if (req.method !== 'GET') return send(res, 405, 'text/plain', 'only GET, and POST for the actions\n')
    if (url.pathname === '/' || url.pathname === '/index.html') return send(res, 200, 'text/html; charset=utf-8', DASHBOARD_PAGE)
    if (url.pathname === '/api/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
      res.write('retry: 2000\n\n')
      streams.add(res)
      req.on('close', () => { streams.delete(res) })
      return
    }
    const value = await api(url.pathname, url)
    if (value === undefined) return send(res, 404, 'text/plain', 'no such page\n')
    send(res, 200, 'application/json', JSON.stringify(value))
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(err => {
      log.error('status page: %e', err)
      if (!res.headersSent) send(res, 500, 'text/plain', String((err as Error).message))
    })
  })
  try {
    await listen(server, port)
  } catch (err: any) {
    if (err.code !== 'EADDRINUSE' || !init.fallback) throw err
    log('status page: port %d is taken, using a free one', port)
    await listen(server, 0)
  }
  const addr = server.address()
  port = typeof addr === 'object' && addr != null ? addr.port : port
  const url = `http://127.0.0.1:${port}/?token=${token}`
  log('status page at http://127.0.0.1:%d/', port)

  // Live updates: peer events and the journal's change feed.
  const net = parts.net
  const onPeer = (kind: 'online' | 'offline' | 'update') => (evt: CustomEvent<{ id: string, name: string, lastSeenMs: number }>): void => {
    devicesChanged()
    filesChanged()
    const name = evt.detail.name !== '' ? evt.detail.name : evt.detail.id
    if (kind === 'online') event(seen.has(evt.detail.id) ? 'device back' : 'device joined', seen.has(evt.detail.id) ? `${name} is back online` : `${name} joined (online)`)
    if (kind === 'offline') event('device left', `${name} went offline`)
    seen.add(evt.detail.id)
  }
  const seen = new Set<string>()
  const listeners = { online: onPeer('online'), offline: onPeer('offline'), update: onPeer('update') }
  net?.membership.addEventListener('peer:online', listeners.online as any)
  net?.membership.addEventListener('peer:offline', listeners.offline as any)
  net?.membership.addEventListener('peer:update', listeners.update as any)
  // File changes come in bursts (a copy writes many batches): one event line per burst.
  const burst = { local: new Set<number>(), remote: new Set<number>(), timer: undefined as NodeJS.Timeout | undefined }
  const offChange = parts.meta.onChange((change) => {
    if (change.content.length === 0 && change.entries.length === 0) return
    filesChanged()
    devicesChanged()
    const into = change.remote ? burst.remote : burst.local
    for (const ino of [...change.content, ...change.entries.map(e => e.parent)]) into.add(ino)
    burst.timer ??= setTimeout(() => {
      burst.timer = undefined
      const say = (n: number): string => `${n} ${n === 1 ? 'file or folder' : 'files or folders'}`
      if (burst.local.size > 0) event('files changed', `this device changed ${say(burst.local.size)}`)
      if (burst.remote.size > 0) event('files changed', `other devices changed ${say(burst.remote.size)}`)
      burst.local.clear()
      burst.remote.clear()
    }, 2000)
  })
  event('started', `${init.deviceName} started`)
  // Repair's counters (in memory, cheap to read): what they gained since the last look is an event.
  const seenRepair = { rebuilt: 0, repaired: 0, bad: 0, readBad: 0, gone: new Set<string>() }
  const watchRepair = setInterval(() => {
    const r = parts.repairer?.status()
    if (r == null) return
    if (r.scrubBadFound > seenRepair.bad) event('corruption', `scrub found ${r.scrubBadFound - seenRepair.bad} bad fragment(s) on this device; they are quarantined and rebuilt`)
    if (r.readBadFound > seenRepair.readBad) event('corruption', `reads found ${r.readBadFound - seenRepair.readBad} corrupt fragment(s) (here or on the devices that sent them); they are quarantined and rebuilt`)
    if (r.stripesRepaired > seenRepair.repaired) event('repair', `repair rebuilt ${r.fragmentsRebuilt - seenRepair.rebuilt} fragment(s) of ${r.stripesRepaired - seenRepair.repaired} stripe(s)`)
    for (const d of r.devices) {
      if (d.state === 'gone' && !seenRepair.gone.has(d.id)) event('repair', `${d.name !== '' ? d.name : d.id} is gone (away past its grace): its fragments are rebuilt on other devices`)
    }
    seenRepair.gone = new Set(r.devices.filter(d => d.state === 'gone').map(d => d.id))
    if (r.stripesRepaired !== seenRepair.repaired || r.scrubBadFound !== seenRepair.bad || r.readBadFound !== seenRepair.readBad) devicesChanged()
    Object.assign(seenRepair, { rebuilt: r.fragmentsRebuilt, repaired: r.stripesRepaired, bad: r.scrubBadFound, readBad: r.readBadFound })
  }, REPAIR_WATCH_MS)
  watchRepair.unref()
  const keepAlive = setInterval(() => { for (const s of streams) s.write(': keep-alive\n\n') }, 15_000)
  keepAlive.unref()

  return {
    url,
    event,
    close: async () => {
      clearInterval(keepAlive)
      clearInterval(watchRepair)
      clearTimeout(burst.timer)
      offChange()
      net?.membership.removeEventListener('peer:online', listeners.online as any)
      net?.membership.removeEventListener('peer:offline', listeners.offline as any)
      net?.membership.removeEventListener('peer:update', listeners.update as any)
      for (const s of streams) s.end()
      await new Promise<void>(resolve => { server.close(() => { resolve() }); server.closeAllConnections() })
    }
  }
}
