/**
 * Budgets against outsiders and members (issue 15): idle sockets cannot lock members out, and
 * unfinished request frames cannot hold more memory than the frame budget.
 */
import '../../../src/util/polyfill.js'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { describe, it } from 'node:test'
import pWaitFor from 'p-wait-for'
import { FRAGMENT_PROTOCOL, generateSwarmKey } from '../../../src/net/index.js'
import { encodeVarint } from '../../../src/net/protocols/frames.js'
import { onCleanup } from '../../helpers/tmp.js'
import { createBareNode, createTestNode } from './net-helpers.js'

describe('budgets', () => {
  it('50 idle outsider sockets do not stop a member from connecting, and each is closed for want of a hello', async (t) => {
    const key = generateSwarmKey()
    const b = await createTestNode(t, { swarmKey: key, name: 'idle-b' })
    const port = Number(b.node.multiaddrs()[0].getComponents().find(c => c.name === 'tcp')?.value)
    const sockets: Socket[] = []
    const closed = new Set<Socket>()
    onCleanup(t, async () => { for (const s of sockets) s.destroy() })
    // From 127.0.0.2: one outsider host, never sending a byte.
    await Promise.all(Array.from({ length: 50 }, async () => {
      await new Promise<void>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' }, resolve)
        s.on('error', () => {})
        s.once('close', () => { closed.add(s); resolve() })
        s.once('error', reject)
        sockets.push(s)
      })
    }))
    const a = await createTestNode(t, { swarmKey: key, name: 'idle-a' })
    const t0 = performance.now()
    // Before: libp2p's 10 pending slots were full for the protector's 5 s, so this dial was refused.
    assert.equal(await a.node.dial(b.node.multiaddrs()[0]), b.node.peerId.toString())
    t.diagnostic(`member connected ${(performance.now() - t0).toFixed(0)} ms after 50 idle sockets`)
    // The hello timeout is 1 s; generous bound for a loaded machine.
    await pWaitFor(() => closed.size === sockets.length, { timeout: 15_000, interval: 50 })
  })

  it('unfinished 16 MiB frames on many streams and connections hold no more than the frame budget', async (t) => {
    const key = generateSwarmKey()
    const perPeer = 20 * 2 ** 20
    const total = 40 * 2 ** 20
    const target = await createTestNode(t, { swarmKey: key, name: 'budget-target', frameBudgetPerPeerBytes: perPeer, frameBudgetTotalBytes: total, maxInboundStreams: 16 })
    const frame = 16 * 2 ** 20
    const chunk = new Uint8Array(2 ** 20)
    let sent = 0
    for (let c = 0; c < 4; c++) {
      const rogue = await createBareNode(t, key, `budget-rogue-${c}`)
      for (let i = 0; i < 4; i++) {
        const stream = await rogue.dialProtocol(target.node.multiaddrs()[0], FRAGMENT_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
        stream.send(encodeVarint(frame))
        stream.send(chunk) // and never the rest
        sent++
      }
    }
    await pWaitFor(() => target.node.stats().frameBudget.refused + target.node.stats().frameBudget.inUseBytes / frame >= sent, { timeout: 15_000, interval: 50 })
    const s = target.node.stats().frameBudget
    t.diagnostic(`${sent} unfinished frames: ${s.inUseBytes / 2 ** 20} MiB reserved (peak ${s.peakBytes / 2 ** 20}), ${s.refused} refused`)
    assert.ok(s.peakBytes <= total, `peak ${s.peakBytes} over the total budget ${total}`)
    assert.equal(s.inUseBytes, 2 * frame, 'one frame per peer fits its 20 MiB, two in the 40 MiB total')
    assert.equal(s.refused, sent - 2)
  })
})
