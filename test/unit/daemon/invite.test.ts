import assert from 'node:assert/strict'
import { it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { decodeInvite, encodeInvite, generateSwarmKey } from '../../../src/net/index.js'
import { decodeSwarmExtra, encodeSwarmExtra } from '../../../src/daemon/invite.js'
import { newSwarmInfo } from '../../../src/daemon/home.js'

it('an invite carries the swarm description to the joining device', () => {
  const swarm = newSwarmInfo({ k: 2, n: 3 }, 1 << 20)
  const swarmKey = generateSwarmKey()
  const addrs = [multiaddr('/ip4/10.0.0.7/tcp/4001')]
  const back = decodeInvite(encodeInvite({ swarmKey, addrs, extra: encodeSwarmExtra(swarm) }))
  assert.deepEqual(back.swarmKey, swarmKey)
  assert.deepEqual(back.addrs.map(String), addrs.map(String))
  assert.deepEqual(decodeSwarmExtra(back.extra), { id: swarm.id, policy: { k: 2, n: 3 }, stripeSizeBytes: 1 << 20 })
})

it('codes without a description (version 1) still decode; a damaged description is refused', () => {
  const swarmKey = generateSwarmKey()
  assert.equal(decodeSwarmExtra(decodeInvite(encodeInvite({ swarmKey, addrs: [] })).extra), undefined)
  assert.throws(() => decodeSwarmExtra(new TextEncoder().encode('{"id":"x","k":5,"n":3,"s":1}')), { name: 'InvalidArgumentError' })
  assert.throws(() => decodeSwarmExtra(new TextEncoder().encode('not json')), { name: 'InvalidArgumentError' })
  const code = encodeInvite({ swarmKey, addrs: [], extra: new Uint8Array(10) })
  assert.throws(() => decodeInvite(code.slice(0, -3) + 'AAA'), { name: 'InvalidArgumentError' })
})

it('after a re-keying an invite also carries the current key record (the grant\'s key stays the salt\'s source)', () => {
  const swarm = newSwarmInfo({ k: 2, n: 3 }, 1 << 20)
  const keys = { epoch: 2, key: new Uint8Array(32).fill(9), members: ['a'], removed: ['b'] }
  assert.deepEqual(decodeSwarmExtra(encodeSwarmExtra(swarm, keys))?.keys, keys)
  assert.equal(decodeSwarmExtra(encodeSwarmExtra(swarm, { ...keys, epoch: 0 }))?.keys, undefined, 'epoch 0 needs no record')
})

it('an invite carries the inviter\'s journal clock for the joiner\'s first ops; a damaged one is refused', () => {
  const swarm = newSwarmInfo({ k: 2, n: 3 }, 1 << 20)
  const clock = 1_780_000_000_123_456_789n
  assert.equal(decodeSwarmExtra(encodeSwarmExtra(swarm, undefined, clock))?.clock, clock)
  assert.equal(decodeSwarmExtra(encodeSwarmExtra(swarm))?.clock, undefined)
  const damaged = JSON.stringify({ id: swarm.id, k: 2, n: 3, s: 1 << 20, h: '12x' })
  assert.throws(() => decodeSwarmExtra(new TextEncoder().encode(damaged)), { name: 'InvalidArgumentError' })
})
