import assert from 'node:assert/strict'
import { it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { decodeInviteCode, encodeInvite, encodeInviteCode, generateSwarmKey } from '../../../src/net/index.js'

it('an invite code round-trips its id, secret, expiry and addresses; a changed character is caught', () => {
  const code = { id: new Uint8Array(8).fill(7), secret: new Uint8Array(16).fill(9), expiresAtMs: 1_900_000_000_000, addrs: [multiaddr('/ip4/10.0.0.7/tcp/4001')] }
  const text = encodeInviteCode(code)
  const back = decodeInviteCode(text)
  assert.deepEqual({ ...back, addrs: back.addrs.map(String) }, { ...code, addrs: code.addrs.map(String) })
  assert.throws(() => decodeInviteCode(text.slice(0, -2) + (text.endsWith('AA') ? 'BB' : 'AA')), { name: 'InvalidArgumentError' })
})

it('codes of older releases, which carried the swarm key, are refused with a message that says so', () => {
  const old = encodeInvite({ swarmKey: generateSwarmKey(), addrs: [] })
  assert.throws(() => decodeInviteCode(old), (err: Error) => err.name === 'InvalidArgumentError' && /carried the swarm key/.test(err.message))
})
