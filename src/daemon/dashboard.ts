/**
 * The status page: a small HTML page on 127.0.0.1 only (never another interface) that shows this
 * device, the peers, capacity and protection, refreshed every two seconds from `status.json`
 * (the same JSON as `palm status --json`; it holds no secret).
 */
import { createServer, type Server } from 'node:http'
import type { Logger } from '@libp2p/interface'
import type { StatusReport } from './control-api.js'

export interface Dashboard {
  url: string
  close: () => Promise<void>
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PALM</title>
<style>
body{font:15px/1.4 system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}
h1{font-size:1.4rem}table{border-collapse:collapse;width:100%}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}
.ok{color:#176d2a}.bad{color:#a11}.dim{color:#777}
</style></head><body>
<h1>PALM <span id="name" class="dim"></span></h1>
<p id="protection"></p>
<p id="summary" class="dim"></p>
<table><thead><tr><th>device</th><th>state</th><th>used / offered</th><th>fragments</th><th>journal</th><th>last seen</th></tr></thead><tbody id="peers"></tbody></table>
<script>
const size = b => { const u = ['B','KiB','MiB','GiB','TiB']; let i = 0; while (b >= 1024 && i < u.length - 1) { b /= 1024; i++ } return b.toFixed(i ? 1 : 0) + ' ' + u[i] }
const esc = s => String(s).replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])
async function refresh () {
  try {
    const s = await (await fetch('status.json', { cache: 'no-store' })).json()
    document.getElementById('name').textContent = s.device.name + ' · swarm ' + s.swarm.id + ' · ' + s.policy.k + '-of-' + s.policy.n
    const p = document.getElementById('protection')
    p.textContent = s.protection
    p.className = s.protectionDetail.deviceLossesSurvivable > 0 ? 'ok' : 'bad'
    document.getElementById('summary').textContent = s.files + ' files, ' + size(s.logicalBytes) + ' · ' + size(s.usableFreeBytes) + ' free of ' + size(s.usableCapacityBytes) + ' usable · mounted at ' + (s.mount.path ?? 'nothing')
    const lag = (d) => d.journal == null || !d.journal.vectorKnown ? '' : d.journal.lagOps === 0 ? 'in sync' : d.journal.lagOps + ' ops behind'
    const rows = [{ name: s.device.name + ' (this device)', online: true, usedBytes: s.usedBytes, capacityBytes: s.capacityBytes, fragmentCount: s.fragments, lastSeenMs: 0 }, ...s.peers]
    document.getElementById('peers').innerHTML = rows.map(d => '<tr><td>' + esc(d.name || d.id) + '</td><td class="' + (d.online ? 'ok' : 'bad') + '">' + (d.online ? 'online' : 'offline') +
      '</td><td>' + size(d.usedBytes) + ' / ' + size(d.capacityBytes) + '</td><td>' + d.fragmentCount + '</td><td>' + lag(d) + '</td><td>' + (d.lastSeenMs == null ? 'never' : Math.round(d.lastSeenMs / 1000) + ' s ago') + '</td></tr>').join('')
  } catch (err) {
    document.getElementById('protection').textContent = 'the daemon does not answer: ' + err
  }
}
refresh(); setInterval(refresh, 2000)
</script></body></html>
`

/** Serves the page on 127.0.0.1:`port` (0 = any free port). */
export async function startDashboard (port: number, status: () => Promise<StatusReport>, log: Logger): Promise<Dashboard> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET') { res.writeHead(405).end(); return }
    if (req.url === '/' || req.url === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(PAGE)
      return
    }
    if (req.url === '/status.json') {
      status().then(s => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(s))
      }, err => {
        log.error('status page: %e', err)
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String((err as Error).message))
      })
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const addr = server.address()
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr != null ? addr.port : port}/`
  log('status page at %s', url)
  return {
    url,
    close: async () => { await new Promise<void>(resolve => { server.close(() => { resolve() }); server.closeAllConnections() }) }
  }
}
