/** The pure parts of re-keying (key-ring.ts): fingerprint, which key wins, who gets it, the record file. */
import assert from 'node:assert/strict'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { decodeRecord, encodeRecord, grantFor, keyId, loadKeyRecord, nextRecord, saveKeyRecord, supersedes, type KeyRecord } from '../../../src/daemon/key-ring.js'
import { createTempDir } from '../../helpers/tmp.js'

const key = (b: number): Uint8Array => new Uint8Array(32).fill(b)

it('a fingerprint names a key without revealing it; a higher epoch wins, and at one epoch the higher fingerprint', () => {
  assert.match(keyId(key(1)), /^[0-9a-f]{16}$/)
  assert.notEqual(keyId(key(1)), keyId(key(2)))
  assert.ok(!keyId(key(1)).includes(Buffer.from(key(1)).toString('hex').slice(0, 8)))
  assert.equal(supersedes({ epoch: 2, key: key(1) }, { epoch: 1, key: key(2) }), true)
  assert.equal(supersedes({ epoch: 1, key: key(2) }, { epoch: 2, key: key(1) }), false)
  const [lo, hi] = [key(1), key(2)].sort((x, y) => keyId(x) < keyId(y) ? -1 : 1)
  assert.equal(supersedes({ epoch: 3, key: hi }, { epoch: 3, key: lo }), true, 'concurrent re-keyings settle on one key')
  assert.equal(supersedes({ epoch: 3, key: lo }, { epoch: 3, key: hi }), false)
  assert.equal(supersedes({ epoch: 3, key: lo }, { epoch: 3, key: lo }), false, 'the same key is no news')
})

it('a re-keying makes a fresh key for the members left; only they get it, never a removed device', () => {
  const r = nextRecord({ epoch: 4 }, ['b', 'a', 'gone', 'a'], ['gone'])
  assert.equal(r.epoch, 5)
  assert.equal(r.key.byteLength, 32)
  assert.notDeepEqual(r.key, nextRecord({ epoch: 4 }, [], []).key)
  assert.deepEqual(r.members, ['a', 'b'])
  assert.deepEqual(r.removed, ['gone'])
  assert.equal(grantFor(r, 'a', () => false), undefined)
  assert.equal(grantFor(r, 'gone', () => false)?.refused, 'removed')
  assert.equal(grantFor(r, 'b', id => id === 'b')?.refused, 'removed', 'a removal in the journal counts too')
  assert.equal(grantFor(r, 'newcomer', () => false)?.refused, 'unknown', 'a device met under a new id after the removal gets nothing')
  assert.equal(grantFor({ epoch: 0, key: key(0), members: [], removed: [] }, 'a', () => false)?.refused, 'unknown', 'never re-keyed: nothing to hand out')
})

it('the record round-trips, is refused when damaged, and is written 0600 and replaced whole', async (t) => {
  const r: KeyRecord = { epoch: 2, key: key(7), members: ['a', 'b'], removed: ['c'] }
  assert.deepEqual(decodeRecord(encodeRecord(r), 'x'), r)
  for (const bad of ['nope', '{"version":1,"epoch":0,"key":"' + '0'.repeat(64) + '","members":[],"removed":[]}', '{"version":1,"epoch":1,"key":"zz","members":[],"removed":[]}', '{"version":1,"epoch":1,"key":"' + '0'.repeat(64) + '","members":[1],"removed":[]}']) {
    assert.throws(() => decodeRecord(new TextEncoder().encode(bad), 'the file'), { name: 'InvalidConfigError' })
  }
  const dir = await createTempDir(t, 'palm-keyring-')
  const path = join(dir, 'swarm-keys.json')
  assert.equal(await loadKeyRecord(path), undefined)
  await saveKeyRecord(path, r)
  assert.equal((await stat(path)).mode & 0o777, 0o600)
  const next = { ...r, epoch: 3, key: key(8) }
  await saveKeyRecord(path, next)
  assert.deepEqual(await loadKeyRecord(path), next)
  assert.equal((await stat(path)).mode & 0o777, 0o600)
  await writeFile(path, '{}')
  await assert.rejects(loadKeyRecord(path), { name: 'InvalidConfigError' })
})
