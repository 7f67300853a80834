/**
 * Glue between the LAN harness and the test device program (dist/test/lan/device.js): the command
 * line to start one, and JSON-line requests to it.
 */
import { fileURLToPath } from 'node:url'
import type { DeviceProcess } from './harness.js'

const DEVICE_JS = fileURLToPath(new URL('./device.js', import.meta.url))
const POLYFILL_JS = fileURLToPath(new URL('../../src/util/polyfill.js', import.meta.url))

export interface DeviceArgs {
  home: string
  name: string
  tag: string
  invite?: string
  extra?: string[]
}

/** The command that runs the test device program (the LAN tests run it as a protocol-level probe beside `palm serve` devices). */
export function deviceCommand (a: DeviceArgs): string[] {
  const cmd = [process.execPath, '--import', POLYFILL_JS, DEVICE_JS, '--home', a.home, '--name', a.name, '--tag', a.tag]
  if (a.invite != null) cmd.push('--invite', a.invite)
  return [...cmd, ...(a.extra ?? [])]
}

let nextId = 1

/** Sends one request and resolves with its result; rejects with the device's error text. */
export async function request<T = any> (dev: DeviceProcess, cmd: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
  const id = nextId++
  const marker = `"reply":${id},`
  const wait = dev.waitForLine(l => l.includes(marker), timeoutMs)
  dev.write(JSON.stringify({ id, cmd, ...params }))
  const reply = JSON.parse(await wait) as { ok: boolean, result?: T, error?: string }
  if (!reply.ok) throw new Error(`${dev.name} ${cmd}: ${reply.error ?? 'failed'}`)
  return reply.result as T
}

/** Ids of the peers `dev` lists as online. */
export async function onlinePeers (dev: DeviceProcess): Promise<string[]> {
  const status = await request<{ peers: Array<{ id: string, online: boolean }> }>(dev, 'status')
  return status.peers.filter(p => p.online).map(p => p.id)
}

/** The READY line's peer id. */
export function readyId (dev: DeviceProcess): string {
  const line = dev.lines.find(l => l.includes('"READY"'))
  if (line == null) throw new Error(`${dev.name} has not printed READY`)
  return (JSON.parse(line) as { id: string }).id
}

/** Polls until every device lists every other id in `ids` as online; resolves with the time it took, ms. */
export async function waitAllOnline (devs: DeviceProcess[], ids: string[], timeoutMs: number): Promise<number> {
  const t0 = performance.now()
  for (;;) {
    const views = await Promise.all(devs.map(async d => ({ d, online: new Set(await onlinePeers(d)) })))
    const missing = views.flatMap(({ d, online }) => ids.filter(id => id !== readyId(d) && !online.has(id)).map(id => `${d.name}→${id.slice(-6)}`))
    if (missing.length === 0) return performance.now() - t0
    if (performance.now() - t0 > timeoutMs) throw new Error(`not all devices online after ${timeoutMs} ms; missing ${missing.join(', ')}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
