import '../../../src/util/polyfill.js'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { decodeInvite, deriveSwarmSalt, encodeInvite, formatSwarmKey, generateSwarmKey, loadOrCreatePeerKey, loadOrCreateSwarmKey, parseSwarmKey, saveSwarmKey } from '../../../src/net/index.js'
import { createTempDir } from '../../helpers/tmp.js'

/** HKDF-SHA256(ikm = 32 zero bytes, salt = empty, info = 'palm/chunk/convergent-salt/v1'), computed independently with openssl. */
const PINNED_ZERO_KEY_SALT = 'c22417c706a7be58f5318fe8851e836a26ea46869059c70a9094cd51c1966347'

describe('keys', () => {
  it('creates the peer key once (mode 0600) and loads the same identity after a restart', async (t) => {
    const dir = await createTempDir(t)
    const path = join(dir, 'home', 'peer.key')
    const k1 = await loadOrCreatePeerKey(path)
    assert.equal((await stat(path)).mode & 0o777, 0o600)
    const k2 = await loadOrCreatePeerKey(path)
    assert.equal(peerIdFromPrivateKey(k1).toString(), peerIdFromPrivateKey(k2).toString())
  })

  it('agrees on one key when two callers create it at once', async (t) => {
    const dir = await createTempDir(t)
    const path = join(dir, 'swarm.key')
    const keys = await Promise.all(Array.from({ length: 8 }, async () => await loadOrCreateSwarmKey(path)))
    for (const k of keys) assert.deepEqual(k, keys[0])
    assert.equal((await stat(path)).mode & 0o777, 0o600)
  })

  it('tightens a swarm key file that is readable by others', async (t) => {
    const dir = await createTempDir(t)
    const path = join(dir, 'swarm.key')
    const key = generateSwarmKey()
    await writeFile(path, formatSwarmKey(key), { mode: 0o644 })
    assert.deepEqual(await loadOrCreateSwarmKey(path), key)
    assert.equal((await stat(path)).mode & 0o777, 0o600)
  })

  it('writes the go-ipfs text form and refuses damaged keys with InvalidConfigError', async (t) => {
    const key = generateSwarmKey()
    const text = formatSwarmKey(key)
    assert.match(text, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
    assert.deepEqual(parseSwarmKey(text), key)
    assert.throws(() => parseSwarmKey(text.slice(0, -3)), { name: 'InvalidConfigError' })
    const dir = await createTempDir(t)
    await writeFile(join(dir, 'peer.key'), 'not a key')
    await assert.rejects(loadOrCreatePeerKey(join(dir, 'peer.key')), { name: 'InvalidConfigError' })
  })

  it('saveSwarmKey stores an invite\'s key once and refuses another swarm\'s key', async (t) => {
    const dir = await createTempDir(t)
    const path = join(dir, 'swarm.key')
    const key = generateSwarmKey()
    await saveSwarmKey(path, key)
    await saveSwarmKey(path, key)
    assert.deepEqual(parseSwarmKey(await readFile(path, 'utf8')), key)
    await assert.rejects(saveSwarmKey(path, generateSwarmKey()), { name: 'InvalidConfigError' })
  })

  it('derives a stable 32-byte swarm salt that differs from the key and between swarms', () => {
    const key = generateSwarmKey()
    const salt = deriveSwarmSalt(key)
    assert.equal(salt.byteLength, 32)
    assert.deepEqual(deriveSwarmSalt(key), salt)
    assert.notDeepEqual(salt, key)
    assert.notDeepEqual(deriveSwarmSalt(generateSwarmKey()), salt)
    // pinned vector: the salt feeds convergent encryption, so it must never change
    assert.equal(Buffer.from(deriveSwarmSalt(new Uint8Array(32))).toString('hex'), PINNED_ZERO_KEY_SALT)
    assert.throws(() => deriveSwarmSalt(new Uint8Array(31)), { name: 'InvalidArgumentError' })
  })
})

describe('invite codes', () => {
  const addrs = [
    multiaddr('/ip4/10.1.2.3/tcp/4001/p2p/12D3KooWK15qLbVMmZYZTeoKnxNgawaQMee4kyMWbV8Qje6G7NpS'),
    multiaddr('/ip6/fd00::1/tcp/4001/p2p/12D3KooWK15qLbVMmZYZTeoKnxNgawaQMee4kyMWbV8Qje6G7NpS')
  ]

  it('round-trips the swarm key and addresses in one line', () => {
    const swarmKey = generateSwarmKey()
    const code = encodeInvite({ swarmKey, addrs })
    assert.match(code, /^palm1-[A-Za-z0-9_-]+$/)
    const back = decodeInvite(`  ${code}\n`)
    assert.deepEqual(back.swarmKey, swarmKey)
    assert.deepEqual(back.addrs.map(String), addrs.map(String))
    assert.deepEqual(decodeInvite(encodeInvite({ swarmKey, addrs: [] })).addrs, [])
  })

  it('rejects changed, truncated or foreign codes with InvalidArgumentError', () => {
    const code = encodeInvite({ swarmKey: generateSwarmKey(), addrs })
    const flipped = code.slice(0, 20) + (code[20] === 'A' ? 'B' : 'A') + code.slice(21)
    for (const bad of [flipped, code.slice(0, -4), 'palm1-', 'hello', code.replace('palm1-', 'palm2-')]) {
      assert.throws(() => decodeInvite(bad), { name: 'InvalidArgumentError' }, bad)
    }
  })
})
