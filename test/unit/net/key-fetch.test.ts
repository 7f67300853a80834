/**
 * Re-keying at the net layer: a node whose key changed refuses a device with the old key, which
 * learns the address of the device that refused it, fetches the new key there by its device key
 * and connects again; a device the authority refuses (removed) gets no key.
 */
import '../../../src/util/polyfill.js'
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { multiaddr } from '@multiformats/multiaddr'
import { fetchSwarmKey, generateSwarmKey, loadOrCreatePeerKey, type InviteAuthority } from '../../../src/net/index.js'
import { createTempDir } from '../../helpers/tmp.js'
import { createTestNode } from './net-helpers.js'

it('a member with the old key fetches the new one where it was refused; a removed device is refused the key', async (t) => {
  const oldKey = generateSwarmKey()
  const newKey = generateSwarmKey()
  const dir = await createTempDir(t, 'palm-keyfetch-')
  const memberKey = await loadOrCreatePeerKey(join(dir, 'member.key'))
  const goneKey = await loadOrCreatePeerKey(join(dir, 'gone.key'))
  const asked: Array<{ device: string, held: number }> = []
  let memberId = ''
  let goneId = ''
  const authority: InviteAuthority = {
    lookup: async () => ({ refused: 'unknown', detail: 'no invites here' }),
    redeem: async () => ({ refused: 'unknown', detail: 'no invites here' }),
    keyFor: async (device, held) => {
      asked.push({ device, held })
      if (device === goneId) return { refused: 'removed', detail: `device ${device} was removed` }
      if (device !== memberId) return { refused: 'unknown', detail: 'not a member' }
      return { grant: { epoch: 1, swarmKey: newKey, extra: new TextEncoder().encode('record') } }
    }
  }
  const keeper = await createTestNode(t, { swarmKey: oldKey, name: 'keeper', invites: authority })
  const mismatches: string[] = []
  const member = await createTestNode(t, { swarmKey: oldKey, name: 'member', peerKey: memberKey, onKeyMismatch: (addr) => { mismatches.push(addr) } })
  memberId = member.node.peerId.toString()
  const gone = await createTestNode(t, { swarmKey: oldKey, name: 'gone', peerKey: goneKey })
  goneId = gone.node.peerId.toString()
  const keeperAddr = keeper.node.multiaddrs()[0]
  assert.equal(await member.node.dial(keeperAddr), keeper.node.peerId.toString(), 'same key: connects')
  await member.node.hangUp(keeper.node.peerId)

  keeper.node.setSwarmKey(newKey)
  await assert.rejects(member.node.dial(keeperAddr), 'the old key no longer connects')
  await assert.rejects(gone.node.dial(keeperAddr))
  assert.ok(mismatches.some(a => keeperAddr.toString().startsWith(a)), `the refused dial reports the keeper's address (got ${mismatches.join(', ')})`)

  const got = await fetchSwarmKey(multiaddr(mismatches[0]), memberKey, 0)
  assert.equal(got.from, keeper.node.peerId.toString(), 'the key says which device gave it (signature checked)')
  assert.equal(got.epoch, 1)
  assert.deepEqual(got.swarmKey, newKey)
  assert.equal(new TextDecoder().decode(got.extra), 'record')
  assert.deepEqual(asked.at(-1), { device: memberId, held: 0 }, 'the authority sees the proven device id and the epoch it holds')

  await assert.rejects(fetchSwarmKey(keeperAddr, goneKey, 0), (err: any) => err.name === 'PermissionError' && err.details?.refusal === 'removed')
  const stranger = await loadOrCreatePeerKey(join(dir, 'stranger.key'))
  await assert.rejects(fetchSwarmKey(keeperAddr, stranger, 0), (err: any) => err.name === 'PermissionError' && err.details?.refusal === 'unknown')

  member.node.setSwarmKey(got.swarmKey)
  await pWaitFor(async () => await member.node.dial(keeperAddr).then(() => true, () => false), { timeout: 15_000, interval: 200 })
  assert.ok(keeper.node.connectedPeers().includes(memberId) || member.node.connectedPeers().includes(keeper.node.peerId.toString()))
  await assert.rejects(gone.node.dial(keeperAddr), 'the removed device still holds only the old key')
})
