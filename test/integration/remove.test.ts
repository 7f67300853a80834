/**
 * `palm remove` (issue 15): the device that removes another hangs up on it and refuses it from then
 * on, although the removed device still holds the swarm key and keeps redialling. Two devices.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { it } from 'node:test'
import { palm, startServe, testEnv, type CliResult } from '../helpers/palm.js'
import { createTempDir } from '../helpers/tmp.js'

const env = testEnv({ PALM_GOSSIP_INTERVAL: '500ms', PALM_OFFLINE_AFTER: '2500ms' })

async function cli (args: string[], input?: string): Promise<CliResult> {
  const r = await palm(args, { env, timeoutMs: 60_000, ...(input != null ? { input } : {}) })
  assert.equal(r.code, 0, `palm ${args.join(' ')}: ${r.stderr}`)
  return r
}

async function online (home: string, id: string): Promise<boolean> {
  const peers: Array<{ id: string, online: boolean }> = JSON.parse((await cli(['peers', '--home', home, '--json'])).stdout)
  return peers.find(p => p.id === id)?.online ?? false
}

it('a removed device is hung up on and cannot connect again', { timeout: 120_000 }, async (t) => {
  const root = await createTempDir(t, 'palm-remove-')
  const a = join(root, 'a')
  const b = join(root, 'b')
  await cli(['init', '--home', a, '--name', 'dev-a'])
  await startServe(t, a, { env })
  await cli(['join', '-', '--home', b, '--name', 'dev-b'], (await cli(['invite', '--home', a])).stdout)
  const served = await startServe(t, b, { env })
  const until = Date.now() + 30_000
  while (!await online(a, served.id)) {
    assert.ok(Date.now() < until, 'dev-b never came online at dev-a')
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  const r = JSON.parse((await cli(['remove', 'dev-b', '--home', a, '--json'])).stdout)
  assert.deepEqual(r, { id: served.id, name: 'dev-b', removed: true })
  assert.match((await cli(['remove', served.id, '--home', a])).stdout, /was removed already/)
  // dev-b redials every few seconds with the swarm key it still holds: it stays out.
  const offlineBy = Date.now() + 10_000
  while (await online(a, served.id)) {
    assert.ok(Date.now() < offlineBy, 'dev-b is still online at dev-a after its removal')
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  for (let i = 0; i < 10; i++) {
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.equal(await online(a, served.id), false, 'dev-b came back after its removal')
  }
})
