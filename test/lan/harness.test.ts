/**
 * The LAN harness itself: the namespaces are wired as described (one bridge, a routed second
 * subnet, nothing on the host), and everything — processes included — is gone after a test,
 * also when a device fails to start.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createLan, lanSkipReason, startDevice, type Lan } from './harness.js'

const run = promisify(execFile)
const skip = lanSkipReason()

async function namespaces (): Promise<string[]> {
  return (await run('ip', ['netns', 'list'])).stdout.split('\n').map(l => l.split(' ')[0]).filter(Boolean)
}

const LISTEN = "require('net').createServer(s => s.end()).listen(7777, '0.0.0.0', () => console.log('READY'))"
const CONNECT = "require('net').connect(7777, process.argv[1]).on('connect', () => process.exit(0)).on('error', () => process.exit(1)); setTimeout(() => process.exit(2), 3000)"

/** Whether a TCP connection from `from` reaches port 7777 on `to` (where LISTEN runs). */
async function reachable (lan: Lan, from: string, to: string): Promise<boolean> {
  try {
    await run('nsenter', [`--net=/run/netns/${lan.device(from).ns}`, process.execPath, '-e', CONNECT, lan.device(to).ip])
    return true
  } catch {
    return false
  }
}

describe('namespace LAN harness', { skip }, () => {
  it('wires a bridge and a routed subnet, and removes every namespace and process afterwards', async (t) => {
    let lan: Lan | undefined
    let sleeperPid = -1
    await t.test('inside', async (t2) => {
      lan = await createLan(t2, { devices: ['a', 'b'], routed: ['c'] })
      for (const d of ['b', 'c']) await startDevice(t2, lan.device(d), [process.execPath, '-e', LISTEN])
      assert.equal(await reachable(lan, 'a', 'b'), true, 'same bridge')
      assert.equal(await reachable(lan, 'a', 'c'), true, 'routed subnet')
      const hostRoutes = (await run('ip', ['route'])).stdout
      assert.ok(!hostRoutes.includes(lan.device('a').ip.split('.').slice(0, 2).join('.') + '.'), 'the host namespace got a route')
      const sleeper = await startDevice(t2, lan.device('a'), ['sh', '-c', 'echo READY; exec sleep 600'])
      sleeperPid = sleeper.pid
      await assert.rejects(startDevice(t2, lan.device('b'), ['sh', '-c', 'echo failing >&2; exit 3'], { readyTimeoutMs: 5_000 }), /exited/)
    })
    assert.ok(lan != null)
    const left = (await namespaces()).filter(n => n.startsWith(lan?.prefix ?? '?'))
    assert.deepEqual(left, [])
    assert.ok(sleeperPid > 0)
    assert.throws(() => process.kill(sleeperPid, 0), 'the device process outlived its test')
  })
})
