/**
 * `palm demo` end to end, and the status web app in a real headless Chromium against it:
 * start 6 devices → the page lists them and the protection what-if → kill 2 devices → the page
 * marks them offline live (server-sent events), shows repair's line, and removes a killed device
 * from its row (confirmed) → every file reads back → stop leaves no mount,
 * process, namespace or file behind. Screenshots of each view go to test-output/dashboard/.
 * As root the demo runs on a LAN of network namespaces (mDNS), where a partition is tried too, and
 * a demo in the foreground is stopped with Ctrl-C (SIGINT).
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createHash, randomBytes } from 'node:crypto'
import { spawn, execFileSync } from 'node:child_process'
import { request } from 'node:http'
import { join } from 'node:path'
import { it } from 'node:test'
import { controlClient } from '../../src/daemon/control-client.js'
import { palm, PALM_BIN, REPO, skipWithoutFuse, testEnv, waitPidGone } from '../helpers/palm.js'
import { createTempDir, onCleanup } from '../helpers/tmp.js'

const CHROMIUM = '/usr/bin/chromium'
const SHOTS = join(process.env.PALM_TEST_OUTPUT ?? join(REPO, 'test-output'), 'dashboard')

/** playwright-core from the project's devDependencies (or PALM_PLAYWRIGHT_CORE, a path to its index.mjs). */
async function loadPlaywright (): Promise<any> {
  try {
    return await import('playwright-core' as string)
  } catch {
    const alt = process.env.PALM_PLAYWRIGHT_CORE
    return alt != null ? await import(alt) : undefined
  }
}

/** The HTTP status of GET `url` sent with another Host header (fetch does not let one set it). */
async function statusWithHost (url: string, host: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    request(url, { headers: { host } }, res => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject).end()
  })
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** As root the demo builds network namespaces; the tests check it removes them. */
const ROOT = process.getuid?.() === 0

function namespaces (prefix: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map(l => l.split(' ')[0]).filter(n => n.startsWith(`${prefix}-`))
}

/**
 * A device's line of `palm peers --json` from `home`: online or not. Asked over the daemon's control
 * socket, which is what that command prints (a CLI process per poll costs a second of CPU here).
 */
async function peerOnline (home: string, name: string): Promise<boolean | undefined> {
  return (await controlClient({ socketPath: join(home, 'run', 'palm.sock') }).peers()).find(p => p.name === name)?.online
}

async function until (what: string, test: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!await test()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

it('palm demo: 6 devices, the page shows them live, 2 killed, every file reads back, stop leaves nothing', { skip: skipWithoutFuse(), timeout: 600_000 }, async (t) => {
  const dir = join(await createTempDir(t, 'palm-demo-'), 'demo')
  // No decoded-stripe cache in the devices: reads after the kills really gather fragments. Repair
  // off: the what-if below shows the stripes at k, which a repair (30 s after the kills) would change.
  const env = testEnv({ PALM_CACHE_SIZE: '1K', PALM_REPAIR_INTERVAL: '0' })
  onCleanup(t, async () => { if (existsSync(join(dir, 'demo.json'))) await palm(['demo', 'stop', '--dir', dir], { env, timeoutMs: 120_000 }) })
  const started = await palm(['demo', 'start', '--devices', '6', '--dir', dir, '--json'], { env, timeoutMs: 300_000 })
  assert.equal(started.code, 0, started.stderr)
  const demo = JSON.parse(started.stdout)
  assert.deepEqual(Object.keys(demo).sort(), ['devices', 'folder', 'page'])
  assert.deepEqual(demo.devices, ['d1', 'd2', 'd3', 'd4', 'd5', 'd6'])
  assert.match(demo.page, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{20,}$/)
  const status = JSON.parse((await palm(['demo', 'status', '--dir', dir, '--json'], { env })).stdout)
  const pids: number[] = status.devices.map((d: any) => d.pid)
  assert.equal(status.mode, ROOT ? 'netns' : 'loopback')
  if (ROOT) {
    assert.equal(namespaces(status.lan.prefix).length, 7, 'a switch and one namespace per device')
    pids.push(status.relayPid)
  }

  const files = new Map<string, string>()
  for (const [name, bytes] of [['one.bin', randomBytes(5 * 2 ** 20)], ['two.txt', Buffer.from('k of n\n'.repeat(1000))]] as const) {
    await writeFile(join(demo.folder, name), bytes)
    files.set(name, sha(bytes))
  }
  files.set('sample.bin', sha(await readFile(join(demo.folder, 'sample.bin'))))
  files.set('welcome.txt', sha(await readFile(join(demo.folder, 'welcome.txt'))))

  // The page refuses requests without the token or with a foreign Host.
  const bare = demo.page.replace(/\?token=.*$/, '')
  assert.equal((await fetch(bare)).status, 403)
  assert.equal(await statusWithHost(demo.page, 'evil.example'), 403)
  assert.equal((await fetch(demo.page)).status, 200)
  // The check action's progress is pushed to open pages (server-sent events) as it runs.
  const stream = await fetch(demo.page.replace('/?', '/api/stream?'))
  const checked = await fetch(demo.page.replace('/?', '/api/check?'), { method: 'POST' })
  assert.equal(checked.status, 200)
  assert.equal((await checked.json()).clean, true)
  const reader = stream.body!.getReader()
  let frames = ''
  while (!frames.includes('"phase":"done"')) {
    const { value, done } = await reader.read()
    if (done) break
    frames += Buffer.from(value).toString()
  }
  await reader.cancel()
  assert.match(frames, /event: progress\ndata: \{"task":"fsck","phase":"checking stripes","done":\d+,"total":7,"unit":"stripes"\}/)

  const pw = existsSync(CHROMIUM) ? await loadPlaywright() : undefined
  let browser: any
  let page: any
  if (pw == null) {
    t.diagnostic(`browser part skipped: ${existsSync(CHROMIUM) ? 'playwright-core is not installed (run npm ci)' : `${CHROMIUM} is missing (apt-get install chromium)`}`)
  } else {
    await mkdir(SHOTS, { recursive: true })
    browser = await pw.chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
    onCleanup(t, async () => { await browser.close() })
    page = await browser.newPage({ viewport: { width: 1200, height: 800 } })
    await page.goto(demo.page)
    await page.waitForFunction(() => document.querySelectorAll('#devices tr').length === 6, null, { timeout: 30_000 })
    const states = await page.$$eval('#devices tr', (rows: any[]) => rows.map(r => [r.dataset.device, r.querySelector('.state').textContent]))
    assert.deepEqual(states.sort(), ['d1', 'd2', 'd3', 'd4', 'd5', 'd6'].map(d => [d, 'online']))
    await page.waitForSelector('#live.ok')
    // Reads and writes of the pool are counted in the header (the test wrote two files).
    await page.waitForFunction(() => /\d+ stripes read, [1-9]\d* written/.test(document.getElementById('summary')?.textContent ?? ''), null, { timeout: 30_000 })
    await page.screenshot({ path: join(SHOTS, '1-devices.png') })
    await page.click('nav button[data-view="protection"]')
    await page.waitForFunction(() => document.querySelectorAll('#whatif tr').length === 6)
    // 4-of-6 over 6 devices: losing any one leaves every file readable.
    const whatIf = await page.$$eval('#whatif tr', (rows: any[]) => rows.map(r => Number(r.children[1].textContent)))
    assert.deepEqual(whatIf, [0, 0, 0, 0, 0, 0])
    await page.screenshot({ path: join(SHOTS, '2-protection.png') })
    await page.click('nav button[data-view="folder"]')
    await page.click('#entries a[data-file="/one.bin"]')
    await page.waitForSelector('#sharemap-table')
    assert.equal(await page.$$eval('#sharemap-table tbody tr', (r: any[]) => r.length), 2)
    await page.screenshot({ path: join(SHOTS, '3-folder.png') })
    // An action, confirmed in a dialog first: check every file.
    page.once('dialog', (d: any) => { void d.accept() })
    await page.click('#act-check')
    await page.waitForFunction(() => document.getElementById('action-result')?.textContent?.startsWith('check: clean'), null, { timeout: 120_000 })
    page.once('dialog', (d: any) => { void d.accept() })
    await page.click('#act-invite')
    await page.waitForFunction(() => document.getElementById('action-result')?.textContent?.startsWith('palm join '), null, { timeout: 30_000 })
    await page.click('nav button[data-view="devices"]')
  }

  if (ROOT) {
    // A partition: d6's link goes down, d1 marks it offline; healed, mDNS finds it again.
    const home = status.devices[0].home
    const cut = await palm(['demo', 'partition', 'd6', '--dir', dir], { env })
    assert.equal(cut.code, 0, cut.stderr)
    await until('d6 offline after the partition', async () => await peerOnline(home, 'd6') === false, 60_000)
    const d1 = await palm(['demo', 'partition', 'd1', '--dir', dir], { env })
    assert.deepEqual([d1.code, d1.stderr], [2, 'palm demo: d1 holds the mount and the status page; break another device (d2, d3, d4, d5, d6) (see `palm help demo`)\n'])
    assert.equal((await palm(['demo', 'heal', 'd6', '--dir', dir], { env })).code, 0)
    await until('d6 online after heal', async () => await peerOnline(home, 'd6') === true, 60_000)
  }
  for (const d of ['d2', 'd3']) {
    const r = await palm(['demo', 'kill', d, '--dir', dir], { env })
    assert.equal(r.code, 0, r.stderr)
  }
  if (page != null) {
    // Pushed by the server (peer:offline over server-sent events), no reload.
    await page.waitForFunction(() => ['d2', 'd3'].every(d => document.querySelector(`#devices tr[data-device="${d}"] .state`)?.textContent === 'offline'), null, { timeout: 60_000 })
    await page.screenshot({ path: join(SHOTS, '4-devices-two-killed.png') })
    await page.click('nav button[data-view="events"]')
    await page.waitForFunction(() => Array.from(document.querySelectorAll('#events li')).some(li => li.textContent?.includes('d2 went offline')), null, { timeout: 30_000 })
    await page.screenshot({ path: join(SHOTS, '5-events.png') })
    // The what-if now: with 2 of 6 down every stripe has exactly k = 4 fragments left, so losing any
    // running device would make all 4 files unreadable; losing d2 or d3 again changes nothing.
    await page.click('nav button[data-view="protection"]')
    await page.waitForFunction(() => document.querySelector('#whatif tr[data-device="d4"]')?.children[1]?.textContent === '4', null, { timeout: 30_000 })
    const rows = await page.$$eval('#whatif tr', (rs: any[]) => Object.fromEntries(rs.map(r => [r.dataset.device, [Number(r.children[1].textContent), Number(r.children[2].textContent)]])))
    assert.deepEqual(rows, { d1: [4, 0], d2: [0, 4], d3: [0, 4], d4: [4, 0], d5: [4, 0], d6: [4, 0] })
    await page.screenshot({ path: join(SHOTS, '6-protection-two-killed.png') })
    // Repair's line on the protection view; the drain and remove actions on every other device's
    // row; removing a killed device from the page (confirmed) logs its removal.
    assert.match(await page.textContent('#repair-summary') ?? '', /^Repair/)
    await page.click('nav button[data-view="devices"]')
    assert.equal(await page.$$eval('#devices button.act-drain', (b: any[]) => b.length), 5)
    page.once('dialog', (d: any) => { void d.accept() })
    await page.click('#devices tr[data-device="d3"] button.act-remove')
    await page.waitForFunction(() => document.getElementById('action-result')?.textContent === 'd3 was removed; its fragments are rebuilt on the other devices', null, { timeout: 60_000 })
    await page.screenshot({ path: join(SHOTS, '7-d3-removed.png') })
    await page.click('nav button[data-view="events"]')
    await page.waitForFunction(() => Array.from(document.querySelectorAll('#events li')).some(li => /d3.* is gone/.test(li.textContent ?? '')), null, { timeout: 30_000 })
  }
  const killed = JSON.parse((await palm(['demo', 'status', '--dir', dir, '--json'], { env })).stdout)
  assert.deepEqual(killed.devices.map((d: any) => d.state), ['running', 'killed', 'killed', 'running', 'running', 'running'])

  // Every file reads back with 2 of 6 devices gone (the kernel's cache dropped first where allowed).
  await writeFile('/proc/sys/vm/drop_caches', '3').catch(() => {})
  for (const [name, want] of files) assert.equal(sha(await readFile(join(demo.folder, name))), want, name)

  const stopped = await palm(['demo', 'stop', '--dir', dir], { env, timeoutMs: 120_000 })
  assert.equal(stopped.code, 0, stopped.stderr)
  assert.equal(existsSync(dir), false, 'the demo folder is gone')
  assert.equal((await readFile('/proc/self/mountinfo', 'utf8')).includes(demo.folder), false, 'no mount left')
  for (const pid of pids) await waitPidGone(pid)
  if (ROOT) assert.deepEqual(namespaces(status.lan.prefix), [], 'no namespace left')
})

it('palm demo start --foreground: Ctrl-C removes the mount, the namespaces, the processes and the files', { skip: skipWithoutFuse(), timeout: 300_000 }, async (t) => {
  const dir = join(await createTempDir(t, 'palm-demo-fg-'), 'demo')
  const env = testEnv()
  onCleanup(t, async () => { if (existsSync(join(dir, 'demo.json'))) await palm(['demo', 'stop', '--dir', dir], { env, timeoutMs: 120_000 }) })
  const child = spawn(process.execPath, [PALM_BIN, 'demo', 'start', '--devices', '3', '--dir', dir, '--foreground'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => { resolve(code) }))
  onCleanup(t, async () => { if (child.exitCode == null) { child.kill('SIGINT'); await exited } })
  let stderr = ''
  child.stdout.resume()
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c })
  await until('the demo running in the foreground', async () => stderr.includes('Ctrl-C stops the demo') || child.exitCode != null, 240_000)
  assert.equal(child.exitCode, null, stderr)
  const s = JSON.parse((await palm(['demo', 'status', '--dir', dir, '--json'], { env })).stdout)
  const pids: number[] = [...s.devices.map((d: any) => d.pid), ...(s.relayPid != null ? [s.relayPid] : [])]
  if (ROOT) assert.equal(namespaces(s.lan.prefix).length, 4)
  child.kill('SIGINT')
  assert.equal(await exited, 0, stderr)
  assert.equal(existsSync(dir), false, 'the demo folder is gone')
  assert.equal((await readFile('/proc/self/mountinfo', 'utf8')).includes(s.folder), false, 'no mount left')
  for (const pid of pids) await waitPidGone(pid)
  if (ROOT) assert.deepEqual(namespaces(s.lan.prefix), [], 'no namespace left')
})
