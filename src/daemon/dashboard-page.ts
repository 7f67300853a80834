/**
 * The status web app's one page: plain HTML, CSS and JavaScript, no library and nothing fetched
 * from elsewhere (the page is served from the package; it works offline). Small on purpose: four
 * views and one server-sent-events stream; a framework would be most of its weight.
 */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PALM</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2329;background:#f6f7f9}
header{background:#1d2b3a;color:#fff;padding:.8rem 1.5rem}header h1{font-size:1.25rem;margin:0}header .dim{color:#b9c6d3}
nav{display:flex;gap:.3rem;padding:.6rem 1.5rem;background:#e7ebef}nav button{font:inherit;border:0;background:none;padding:.35rem .8rem;border-radius:.4rem;cursor:pointer}
nav button.on{background:#fff;box-shadow:0 1px 2px #0002}main{padding:1rem 1.5rem;max-width:72rem}
table{border-collapse:collapse;width:100%;background:#fff}td,th{padding:.35rem .6rem;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
th{font-weight:600;color:#52606d;font-size:.85rem}.ok{color:#176d2a}.bad{color:#b3261e}.warn{color:#8a5a00}.dim{color:#6b7680}
.num{text-align:right;font-variant-numeric:tabular-nums}#protection{margin:.2rem 0 0}.view{display:none}.view.on{display:block}
a{color:#1a5fb4;cursor:pointer}.frag{font:12px ui-monospace,monospace}.cell-ok{background:#e5f4e8}.cell-bad{background:#fbe4e2}
#live{float:right;font-size:.8rem}.actions{margin-left:auto}.actions button{border:1px solid #b9c2cc;background:#fff}#action-result{margin:.4rem 1.5rem;word-break:break-all}ul#events{list-style:none;padding:0;background:#fff}#events li{padding:.3rem .6rem;border-bottom:1px solid #e3e6ea}
</style></head><body>
<header><span id="live" class="dim">connecting…</span><h1>PALM <span id="title" class="dim"></span></h1><p id="protection"></p><p id="summary" class="dim"></p></header>
<nav><button data-view="devices" class="on">Devices</button><button data-view="protection">Protection</button><button data-view="folder">Folder</button><button data-view="events">Events</button>
<span class="actions"><button id="act-check" title="palm fsck: read every fragment of this device and check it against its CID">Check files</button><button id="act-invite" title="palm invite: a code for another device">Invite a device</button></span></nav>
<p id="action-result" class="dim"></p><p id="work" class="dim"><progress id="work-bar" max="1" value="0" hidden></progress> <span id="work-text"></span></p>
<main>
<section id="view-devices" class="view on"><table><thead><tr><th>device</th><th>state</th><th class="num">capacity</th><th class="num">used</th><th class="num">fragments</th><th class="num">journal lag</th><th>last seen</th><th>repair</th><th></th></tr></thead><tbody id="devices"></tbody></table></section>
<section id="view-protection" class="view"><p id="protection-summary"></p><p id="repair-summary"></p><table><thead><tr><th>if this device is lost</th><th class="num">files unreadable</th><th class="num">files below k+1</th></tr></thead><tbody id="whatif"></tbody></table></section>
<section id="view-folder" class="view"><p id="crumbs"></p><table><thead><tr><th>name</th><th class="num">size</th><th>health</th></tr></thead><tbody id="entries"></tbody></table><div id="sharemap"></div></section>
<section id="view-events" class="view"><ul id="events"></ul></section>
</main>
<script>
'use strict'
const token = new URLSearchParams(location.search).get('token') || ''
const q = (p, params) => p + '?' + new URLSearchParams({ ...(params || {}), token })
const get = async (p, params) => { const r = await fetch(q(p, params), { cache: 'no-store' }); if (!r.ok) throw new Error(await r.text()); return r.json() }
const $ = id => document.getElementById(id)
const esc = s => String(s).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
const size = b => { const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0; while (b >= 1024 && i < u.length - 1) { b /= 1024; i++ } return b.toFixed(i ? 1 : 0) + ' ' + u[i] }
const ago = ms => ms == null ? 'never' : ms < 1500 ? 'now' : ms < 90000 ? Math.round(ms / 1000) + ' s ago' : Math.round(ms / 60000) + ' min ago'
let view = 'devices'
let folder = '/'
let policy = { k: 0, n: 0 }

async function loadStatus () {
  const s = await get('/api/status')
  policy = s.policy
  $('title').textContent = s.device.name + ' · swarm ' + s.swarm.id + ' · ' + s.policy.k + '-of-' + s.policy.n
  $('protection').textContent = s.protection
  $('protection').className = s.protectionDetail.deviceLossesSurvivable > 0 ? 'ok' : 'warn'
  $('summary').textContent = s.files + ' files, ' + size(s.logicalBytes) + ' · ' + size(s.usableFreeBytes) + ' free of ' + size(s.usableCapacityBytes) + ' usable · ' + (s.mount.path ? 'mounted at ' + s.mount.path : 'not mounted') +
    (s.place ? ' · ' + s.place.stripesRead + ' stripes read, ' + s.place.stripesWritten + ' written' + (s.place.readFailures ? ', ' + s.place.readFailures + ' reads failed' : '') : '')
}
async function loadDevices () {
  const rows = await get('/api/devices')
  $('devices').innerHTML = rows.map(d => '<tr data-device="' + esc(d.name) + '"><td>' + esc(d.name) + (d.self ? ' <span class="dim">(this device)</span>' : '') + '</td>' +
    '<td class="state ' + (d.online ? 'ok' : 'bad') + '">' + (d.online ? 'online' : 'offline') + '</td><td class="num">' + size(d.capacityBytes) + '</td><td class="num">' + size(d.usedBytes) +
    '</td><td class="num">' + d.fragments + '</td><td class="num">' + (d.journalLag == null ? '—' : d.journalLag) + '</td><td>' + (d.self ? '—' : ago(d.lastSeenMs)) + '</td>' +
    '<td class="' + ({ online: 'ok', grace: 'warn', gone: 'bad', draining: 'warn' }[d.repairState] || 'dim') + '">' + esc(d.repairState || '—') + '</td>' +
    '<td>' + (d.self ? '' : '<button class="act-drain" data-id="' + esc(d.id) + '" data-name="' + esc(d.name) + '" title="palm drain: move every fragment off this device">Drain</button> ' +
      '<button class="act-remove" data-id="' + esc(d.id) + '" data-name="' + esc(d.name) + '" title="palm remove: remove this device from the swarm">Remove</button>') + '</td></tr>').join('')
}
async function loadProtection () {
  const p = await get('/api/protection')
  $('protection-summary').textContent = p.files + ' files in ' + p.stripes + ' stripes; ' + (p.unreadableNow > 0 ? p.unreadableNow + ' cannot be read now.' : 'every file can be read now.') + (p.partial ? ' (first stripes only)' : '') + (p.pendingSpread > 0 ? ' ' + p.pendingSpread + ' fragments wait to be spread to devices that were away.' : ' Nothing waits to be spread.')
  const r = p.repair
  $('repair-summary').textContent = r == null ? 'Repair is off on this device.' : r.lastWalkMs === 0 ? 'Repair has not surveyed the stripes yet (or is turned off here).' : 'Repair, at its last survey ' + ago(Date.now() - r.lastWalkMs) + ': ' +
    (r.stripesBelowN.atK + r.stripesBelowN.atK1 + r.stripesBelowN.more + r.stripesBelowN.unreadable === 0 ? 'every stripe has all its fragments on live devices' :
      r.stripesBelowN.atK + ' stripes at k, ' + r.stripesBelowN.atK1 + ' at k+1, ' + r.stripesBelowN.more + ' with more to spare, ' + r.stripesBelowN.unreadable + ' unreadable; ' + size(r.bytesToMove) + ' to rebuild' +
      (r.rateBytesPerSec > 0 ? ' at ' + size(r.rateBytesPerSec) + '/s, about ' + Math.ceil(r.bytesToMove / r.rateBytesPerSec) + ' s left' : '')) +
    '. ' + r.fragmentsRebuilt + ' fragments rebuilt here since start. Last scrub: ' + (r.lastScrub ? ago(Date.now() - r.lastScrub.atMs) + ', ' + r.lastScrub.checked + ' checked, ' + (r.lastScrub.corrupt + r.lastScrub.unreadable) + ' bad' : 'not yet') + '.' +
    (r.scrubBadFound + r.readBadFound > 0 ? ' Bad fragments found since start: ' + r.scrubBadFound + ' by scrub, ' + r.readBadFound + ' by reads (rebuilt).' : '')
  $('whatif').innerHTML = p.whatIf.map(w => '<tr data-device="' + esc(w.name) + '"><td>' + esc(w.name) + '</td><td class="num ' + (w.unreadableFiles > 0 ? 'bad' : 'ok') + '">' + w.unreadableFiles +
    '</td><td class="num ' + (w.belowSpareFiles > 0 ? 'warn' : '') + '">' + w.belowSpareFiles + '</td></tr>').join('')
}
async function loadFolder () {
  const f = await get('/api/folder', { path: folder })
  const parts = f.path.split('/').filter(Boolean)
  $('crumbs').innerHTML = '<a data-dir="/">/</a>' + parts.map((p, i) => ' <a data-dir="/' + esc(parts.slice(0, i + 1).join('/')) + '">' + esc(p) + '</a> /').join('')
  $('entries').innerHTML = f.entries.map(e => {
    const path = (f.path === '/' ? '' : f.path) + '/' + e.name
    const h = e.health ? '<span class="' + (e.health.reachable < e.health.needed ? 'bad' : e.health.reachable === e.health.needed ? 'warn' : 'ok') + '">' + esc(e.health.text) + '</span>' : ''
    return '<tr data-name="' + esc(e.name) + '"><td>' + (e.type === 'dir' ? '<a data-dir="' + esc(path) + '">' + esc(e.name) + '/</a>' : e.type === 'file' ? '<a data-file="' + esc(path) + '">' + esc(e.name) + '</a>' : esc(e.name)) +
      '</td><td class="num">' + (e.type === 'dir' ? '' : size(e.size)) + '</td><td>' + h + '</td></tr>'
  }).join('') + (f.more ? '<tr><td colspan="3" class="dim">… more</td></tr>' : '')
}
async function showFile (path) {
  const info = await get('/api/file', { path })
  const head = '<h3>' + esc(info.path) + ' <span class="dim">' + size(info.size) + ', ' + esc(info.policy) + ': ' + esc(info.health.text) + '</span></h3>'
  const n = info.stripes.length ? info.stripes[0].fragments.length : 0
  let t = '<table id="sharemap-table"><thead><tr><th>stripe</th>' + Array.from({ length: n }, (_, i) => '<th>fragment ' + i + '</th>').join('') + '</tr></thead><tbody>'
  for (const s of info.stripes.slice(0, 200)) {
    t += '<tr><td>' + s.index + '</td>' + s.fragments.map(f => { const up = f.holders.some(h => h.online); return '<td class="frag ' + (up ? 'cell-ok' : 'cell-bad') + '" title="' + esc(f.cid) + '">' + f.holders.map(h => esc(h.name)).join(', ') + '</td>' }).join('') + '</tr>'
  }
  $('sharemap').innerHTML = head + t + '</tbody></table><p class="dim">Each cell is one fragment and the device holding it; any ' + policy.k + ' of a stripe\\'s ' + n + ' rebuild it.</p>'
}
function addEvent (e) {
  const li = document.createElement('li')
  li.textContent = new Date(e.atMs).toLocaleTimeString() + '  ' + e.text
  li.dataset.kind = e.kind
  $('events').prepend(li)
}
async function loadEvents () { $('events').innerHTML = ''; for (const e of await get('/api/events')) addEvent(e) }
const loaders = { devices: loadDevices, protection: loadProtection, folder: loadFolder, events: loadEvents }
const safe = f => f().catch(err => { $('live').textContent = 'error: ' + err.message; $('live').className = 'bad' })
document.querySelector('nav').addEventListener('click', ev => {
  const b = ev.target.closest('button[data-view]'); if (!b) return
  view = b.dataset.view
  for (const x of document.querySelectorAll('nav button[data-view]')) x.classList.toggle('on', x === b)
  for (const x of document.querySelectorAll('.view')) x.classList.toggle('on', x.id === 'view-' + view)
  safe(loaders[view])
})
$('view-folder').addEventListener('click', ev => {
  const a = ev.target.closest('a'); if (!a) return
  if (a.dataset.dir) { folder = a.dataset.dir; $('sharemap').innerHTML = ''; safe(loadFolder) } else if (a.dataset.file) safe(() => showFile(a.dataset.file))
})
$('act-check').addEventListener('click', () => {
  if (!confirm('Check every file now? This reads every fragment of this device (palm fsck) and may take a while.')) return
  $('action-result').textContent = 'checking…'
  safe(async () => {
    const res = await fetch(q('/api/check'), { method: 'POST' })
    if (!res.ok) { $('action-result').textContent = await res.text(); return }
    const r = await res.json()
    $('action-result').textContent = r.clean ? 'check: clean, ' + r.stripesChecked + ' stripes' : 'check found problems: ' + JSON.stringify(r.counts) + ' (run palm fsck for details)' })
})
$('act-invite').addEventListener('click', () => {
  if (!confirm('Make an invite code? It works once, for an hour, while this device runs: whoever uses it first joins. Share it privately.')) return
  safe(async () => { const r = await fetch(q('/api/invite'), { method: 'POST' }).then(x => x.json()); $('action-result').textContent = 'palm join ' + r.code + '   (single use, until ' + r.expiresAt + ')' })
})
$('devices').addEventListener('click', ev => {
  const b = ev.target.closest('button.act-drain, button.act-remove'); if (!b) return
  const drain = b.classList.contains('act-drain')
  const name = b.dataset.name
  if (!confirm(drain ? 'Drain ' + name + '? Every fragment it holds is copied to other devices (palm drain); then it may be wiped.'
    : 'Remove ' + name + ' from the swarm? Every device then refuses it, and its fragments are rebuilt on the others (palm remove). This cannot be undone.')) return
  $('action-result').textContent = (drain ? 'draining ' : 'removing ') + name + '…'
  safe(async () => {
    const res = await fetch(q(drain ? '/api/drain' : '/api/remove', { device: b.dataset.id }), { method: 'POST' })
    if (!res.ok) { $('action-result').textContent = await res.text(); return }
    const r = await res.json()
    $('action-result').textContent = drain ? 'drained ' + name + ': ' + r.fragmentsMoved + ' fragments moved; no file needs it any more, it may be wiped'
      : (r.removed ? name + ' was removed; its fragments are rebuilt on the other devices' : name + ' was removed already')
    safe(loadDevices)
  })
})
// Long work (a check or a drain): a bar with counts, pushed by the server.
let workStarted = 0
function showWork (p) {
  const bar = $('work-bar')
  if (p.phase === 'done') { bar.hidden = true; $('work-text').textContent = ''; workStarted = 0; return }
  if (!workStarted) workStarted = Date.now()
  bar.hidden = false
  bar.max = Math.max(1, p.total); bar.value = p.done
  const eta = p.done > 0 && p.total > p.done ? ', about ' + Math.ceil((Date.now() - workStarted) * (p.total - p.done) / p.done / 1000) + ' s left' : ''
  $('work-text').textContent = (p.task === 'fsck' ? 'check' : p.task) + ': ' + p.phase + ' ' + p.done + (p.total ? '/' + p.total : '') + ' ' + p.unit + eta
}
function connect () {
  const es = new EventSource(q('/api/stream'))
  es.onopen = () => { $('live').textContent = 'live'; $('live').className = 'ok'; safe(loadStatus); safe(loaders[view]) }
  es.onerror = () => { $('live').textContent = 'reconnecting…'; $('live').className = 'bad' }
  es.addEventListener('devices', () => { safe(loadStatus); if (view === 'devices' || view === 'protection') safe(loaders[view]) })
  es.addEventListener('files', () => { safe(loadStatus); if (view === 'folder' || view === 'protection') safe(loaders[view]) })
  es.addEventListener('event', m => addEvent(JSON.parse(m.data)))
  es.addEventListener('progress', m => showWork(JSON.parse(m.data)))
}
safe(loadStatus); safe(loadDevices); safe(loadEvents); connect()
</script></body></html>
`
