/**
 * KeyRotation against a real journal (no network): a re-keying is kept on disk and recorded in the
 * journal; a fetched key is taken only from an admitted, unremoved device and only when newer; the
 * key is handed to members only.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { it } from 'node:test'
import { createMetaStore } from '../../../src/meta/index.js'
import { generateSwarmKey } from '../../../src/net/index.js'
import { KeyRotation } from '../../../src/daemon/key-rotation.js'
import { encodeRecord, keyId, loadKeyRecord } from '../../../src/daemon/key-ring.js'
import { prefixLogger } from '../../../src/util/logger.js'
import { testSigner } from '../../compliance/meta-store-tests.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'

it('a re-keying is kept and recorded; fetched keys are taken only from members and only when newer; only members get the key', async (t) => {
  const dir = await createTempDir(t, 'palm-keyrot-')
  const meta = createMetaStore({ path: join(dir, 'j.db'), deviceId: 'me', ...testSigner() })
  await meta.start()
  onCleanup(t, async () => { await meta.stop() })
  await meta.admit('friend', testSigner().publicKey)
  await meta.admit('gone', testSigner().publicKey)
  await meta.removeDevice('gone')
  const path = join(dir, 'swarm-keys.json')
  const swarmKey = generateSwarmKey()
  const keys = new KeyRotation({ path, swarmKey, deviceId: 'me', deviceKey: undefined as any, meta, isRemoved: id => id === 'gone', net: () => undefined, log: prefixLogger('me').forComponent('palm:daemon:keys') })
  await keys.load()
  assert.deepEqual(keys.networkKey(), swarmKey, 'never re-keyed: swarm.key')

  const r1 = await keys.rotate()
  assert.equal(r1.epoch, 1)
  const saved = await loadKeyRecord(path)
  assert.equal(saved?.epoch, 1)
  assert.deepEqual(saved?.members, ['friend', 'me'])
  assert.deepEqual(saved?.removed, ['gone'])
  assert.deepEqual(keys.networkKey(), saved?.key)
  assert.deepEqual(await meta.keyEpoch(), { epoch: 1, keyId: r1.keyId })
  assert.equal(keys.excludes('gone'), true)

  assert.ok('grant' in await keys.keyFor('friend'))
  assert.deepEqual(await keys.keyFor('gone'), { refused: 'removed', detail: 'device gone was removed from this swarm; it gets no key' })
  assert.equal((await keys.keyFor('stranger') as any).refused, 'unknown')

  const offer = (epoch: number, from: string): any => {
    const r = { epoch, key: generateSwarmKey(), members: ['friend', 'me'], removed: ['gone'] }
    return { from, epoch, swarmKey: r.key, extra: encodeRecord(r) }
  }
  assert.equal(await keys.adopt(offer(5, 'stranger')), false, 'not admitted here')
  assert.equal(await keys.adopt(offer(5, 'gone')), false, 'removed')
  const same = offer(1, 'friend')
  assert.equal(await keys.adopt(same), keyId(same.swarmKey) > keyId(saved?.key as Uint8Array), 'same epoch: only a higher fingerprint wins')
  await assert.rejects(keys.adopt(offer(0, 'friend')), { name: 'InvalidConfigError' }, 'an epoch-0 record is no record')
  const newer = offer(3, 'friend')
  assert.equal(await keys.adopt(newer), true)
  assert.deepEqual(keys.networkKey(), newer.swarmKey)
  assert.equal((await loadKeyRecord(path))?.epoch, 3)
  assert.equal(await keys.adopt(offer(2, 'friend')), false, 'older')
  const again = await keys.rotate()
  assert.equal(again.epoch, 4, 'the next re-keying counts on from the newest epoch')
})
