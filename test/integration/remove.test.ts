/**
 * `palm remove` (issue 15): the device that removes another hangs up on it, refuses it from then on
 * and re-keys the swarm. Four devices: the removed one keeps redialling with the old key and stays
 * out, and is refused the new key; a member online during the removal learns of the new key from
 * the journal and fetches it; a member that was down fetches it from the remover when it comes
 * back, and connects with it.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { fetchSwarmKey, loadOrCreatePeerKey } from '../../src/net/index.js'
import { controlClient } from '../../src/daemon/control-client.js'
import { palm, startServe, testEnv, type CliResult } from '../helpers/palm.js'
import { createTempDir } from '../helpers/tmp.js'

const env = testEnv({ PALM_GOSSIP_INTERVAL: '500ms', PALM_OFFLINE_AFTER: '2500ms' })

async function cli (args: string[], input?: string): Promise<CliResult> {
  const r = await palm(args, { env, timeoutMs: 60_000, ...(input != null ? { input } : {}) })
  assert.equal(r.code, 0, `palm ${args.join(' ')}: ${r.stderr}`)
  return r
}

/** Whether `home`'s daemon sees `id` online (asked over its control socket: a CLI process per poll is slow on a loaded machine). */
async function online (home: string, id: string): Promise<boolean> {
  const peers = await controlClient({ socketPath: join(home, 'run', 'palm.sock') }).peers()
  return peers.find(p => p.id === id)?.online ?? false
}

async function until (what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms
  while (!await ok()) {
    assert.ok(Date.now() < end, what)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

const keyRecord = async (home: string): Promise<{ epoch: number, key: string } | undefined> =>
  await readFile(join(home, 'swarm-keys.json'), 'utf8').then(t => JSON.parse(t), () => undefined)

it('a removed device is hung up on, cannot connect again nor get the new key; a member down meanwhile gets it when it returns', { timeout: 300_000 }, async (t) => {
  const root = await createTempDir(t, 'palm-remove-')
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(n => join(root, n))
  await cli(['init', '--home', a, '--name', 'dev-a'])
  await startServe(t, a, { env })
  await Promise.all([[b, 'dev-b'], [c, 'dev-c'], [d, 'dev-d']].map(async ([home, name]) => {
    await cli(['join', '-', '--home', home, '--name', name], (await cli(['invite', '--home', a])).stdout)
  }))
  const [servedB, servedC, servedD] = await Promise.all([b, c, d].map(async home => await startServe(t, home, { env })))
  await Promise.all([
    until('dev-b never came online at dev-a', 30_000, async () => await online(a, servedB.id)),
    until('dev-c never came online at dev-a', 30_000, async () => await online(a, servedC.id)),
    until('dev-d never came online at dev-a', 30_000, async () => await online(a, servedD.id))
  ])
  await servedC.kill9()

  const r = JSON.parse((await cli(['remove', 'dev-b', '--home', a, '--json'])).stdout)
  assert.deepEqual(r, { id: servedB.id, name: 'dev-b', removed: true, keyEpoch: 1 })
  assert.match((await cli(['remove', servedB.id, '--home', a])).stdout, /was removed already/)
  const rekeyed = await keyRecord(a)
  assert.equal(rekeyed?.epoch, 1, 'dev-a keeps the new key in its home')

  // dev-b redials every few seconds with the old swarm key: it stays out.
  await until('dev-b is still online at dev-a after its removal', 10_000, async () => !await online(a, servedB.id))
  // dev-b proves its device key at dev-a's port and is refused the new key.
  const addrs: string[] = JSON.parse(await readFile(join(a, 'run', 'addrs.json'), 'utf8'))
  const bKey = await loadOrCreatePeerKey(join(b, 'device.key'))
  await assert.rejects(fetchSwarmKey(multiaddr(addrs[0]), bKey, 0), (err: any) => err.name === 'PermissionError' && err.details?.refusal === 'removed')
  assert.equal(await keyRecord(b), undefined, 'dev-b never got the new key')
  // dev-d was online: the journal's keyEpoch op told it, and it fetched the key.
  await until('dev-d did not take the new key', 30_000, async () => (await keyRecord(d))?.key === rekeyed?.key)
  assert.equal(await online(a, servedD.id), true, 'dev-d stays online at dev-a')

  // dev-c comes back with the old key: it fetches the new one from dev-a and connects with it.
  await startServe(t, c, { env })
  await until('dev-c did not come back online at dev-a with the new key', 30_000, async () => await online(a, servedC.id))
  assert.equal((await keyRecord(c))?.key, rekeyed?.key, 'dev-c holds the new key')
  for (let i = 0; i < 4; i++) {
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.equal(await online(a, servedB.id), false, 'dev-b came back after its removal')
  }
})
