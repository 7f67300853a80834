/**
 * KernelNotifier's own rules (the real binding is exercised by
 * test/integration/remote-changes-mount.test.ts): nothing reaches the session during `queue()`
 * (it may run inside an op's continuation), a tick's invalidations are coalesced, data supersedes
 * attributes, and nothing is sent after `close()`. The session here records calls.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { KernelNotifier } from '../../../src/fuse/notify.js'
import { prefixLogger } from '../../../src/util/logger.js'

function recorder (): { calls: string[], session: { notifyInvalEntry: (p: number, n: string) => void, notifyInvalInode: (i: number, o: number, l: number) => void } } {
  const calls: string[] = []
  return {
    calls,
    session: {
      notifyInvalEntry: (p, n) => { calls.push(`entry ${p}/${n}`) },
      notifyInvalInode: (i, o, l) => { calls.push(`inode ${i} ${o} ${l}`) }
    }
  }
}

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }
const log = prefixLogger('notify-test').forComponent('palm:fuse:notify')

describe('KernelNotifier', () => {
  it('sends nothing synchronously, then one coalesced hand-over per tick', async () => {
    const { calls, session } = recorder()
    const n = new KernelNotifier(session, log)
    n.queue({ entries: [{ parent: 1, name: 'a' }], attrs: [5, 7], data: [] })
    n.queue({ entries: [{ parent: 1, name: 'a' }, { parent: 3, name: 'b' }], attrs: [], data: [7] })
    await Promise.resolve() // microtasks (an op's continuation) still see nothing sent
    assert.deepEqual(calls, [])
    await tick()
    assert.deepEqual(calls, ['entry 1/a', 'entry 3/b', 'inode 7 0 0', 'inode 5 -1 0'])
    assert.deepEqual(n.stats, { entries: 2, data: 1, attrs: 1, flushes: 1 })
    n.queue({ entries: [], attrs: [5], data: [] })
    await tick()
    assert.deepEqual(calls.slice(4), ['inode 5 -1 0'])
  })

  it('drops what is queued at close and sends nothing after', async () => {
    const { calls, session } = recorder()
    const n = new KernelNotifier(session, log)
    n.queue({ entries: [{ parent: 1, name: 'a' }], attrs: [], data: [2] })
    n.close()
    n.queue({ entries: [{ parent: 1, name: 'b' }], attrs: [], data: [] })
    await tick()
    await tick()
    assert.deepEqual(calls, [])
  })
})
