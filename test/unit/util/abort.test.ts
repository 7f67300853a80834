/**
 * RestartableDeadline: one deadline for a sequence of operations (a fragment stream's requests),
 * restarted per operation, following its parents' aborts, and leaving nothing behind.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { RestartableDeadline } from '../../../src/util/abort.js'

describe('RestartableDeadline', () => {
  it('stays open while restarted within the limit, and times out once idle', async () => {
    const d = new RestartableDeadline([], 200)
    try {
      for (let i = 0; i < 5; i++) {
        await sleep(100)
        assert.equal(d.signal.aborted, false, `aborted after restart ${i}`)
        d.restart()
      }
      await sleep(400)
      assert.equal(d.signal.aborted, true)
      assert.equal((d.signal.reason as Error).name, 'TimeoutError')
    } finally {
      d.clear()
    }
  })

  it('aborts with a parent, also one aborted already, and clear() detaches from the parents', async () => {
    const parent = new AbortController()
    const d = new RestartableDeadline([undefined, parent.signal], 60_000)
    parent.abort(new Error('shutting down'))
    assert.equal(d.signal.aborted, true)
    assert.equal((d.signal.reason as Error).message, 'shutting down')

    const gone = new RestartableDeadline([parent.signal], 60_000)
    assert.equal(gone.signal.aborted, true)
    gone.clear()

    const other = new AbortController()
    const e = new RestartableDeadline([other.signal], 50)
    e.clear()
    other.abort(new Error('late'))
    await sleep(100)
    assert.equal(e.signal.aborted, false, 'neither the parent nor the timer reach a cleared deadline')
  })
})
