import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { GroupSync } from '../../../src/store/group-sync.js'
import { KeyedLock } from '../../../src/store/keyed-lock.js'

/** A flush that records its batches and finishes when the test lets it. */
function recordingFlush (): { flush: (items: string[]) => Promise<void>, batches: string[][], release: () => void } {
  const batches: string[][] = []
  let gate = Promise.withResolvers<void>()
  return {
    batches,
    flush: async items => { batches.push(items); await gate.promise },
    release: () => { gate.resolve(); gate = Promise.withResolvers<void>() }
  }
}

describe('GroupSync', () => {
  it('flushes concurrent callers in at most two batches', async () => {
    const r = recordingFlush()
    const g = new GroupSync<string>(r.flush)
    for (let i = 0; i < 50; i++) g.add(`k${i}`, `item${i}`)
    const first = g.sync(['k0'])
    await new Promise(resolve => setImmediate(resolve))
    const rest = Array.from({ length: 49 }, async (_, i) => { await g.sync([`k${i + 1}`]) })
    await new Promise(resolve => setImmediate(resolve))
    r.release()
    await first
    await new Promise(resolve => setImmediate(resolve))
    r.release()
    await Promise.all(rest)
    assert.equal(r.batches.length, 2)
    assert.deepEqual(r.batches[0], ['item0'])
    assert.equal(r.batches[1].length, 49)
    assert.equal(g.pendingCount, 0)
  })

  it('waits for the batch already flushing a key instead of returning early', async () => {
    const r = recordingFlush()
    const g = new GroupSync<string>(r.flush)
    g.add('a', 'A')
    let done = false
    const first = g.sync().then(() => { done = true })
    await new Promise(resolve => setImmediate(resolve))
    let secondDone = false
    const second = g.sync(['a']).then(() => { secondDone = true })
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(done, false)
    assert.equal(secondDone, false, 'a is in flight: its sync waits for the flush')
    r.release()
    await Promise.all([first, second])
    assert.equal(r.batches.length, 1)
  })

  it('returns at once for keys that are already durable, and forgets deleted ones', async () => {
    const r = recordingFlush()
    const g = new GroupSync<string>(r.flush)
    await g.sync(['nothing'])
    g.add('gone', 'G')
    g.forget('gone')
    await g.sync()
    assert.equal(r.batches.length, 0)
  })

  it('keeps items of a failed flush for the next sync and reports the failure to its waiters', async () => {
    let fail = true
    const seen: string[][] = []
    const g = new GroupSync<string>(async items => {
      seen.push(items)
      if (fail) throw new Error('EIO from fsync')
    })
    g.add('x', 'X')
    await assert.rejects(g.sync(['x']), /EIO from fsync/)
    fail = false
    await g.sync(['x'])
    assert.deepEqual(seen, [['X'], ['X']])
  })

  it('stops waiting when the signal fires', async () => {
    const r = recordingFlush()
    const g = new GroupSync<string>(r.flush)
    g.add('a', 'A')
    const c = new AbortController()
    const waiting = g.sync(undefined, { signal: c.signal })
    c.abort()
    await assert.rejects(waiting, { name: 'AbortedError' })
    r.release()
  })
})

describe('KeyedLock', () => {
  it('runs one holder per key at a time, different keys in parallel', async () => {
    const lock = new KeyedLock()
    const log: string[] = []
    const step = async (key: string, name: string): Promise<void> => {
      await lock.run(key, async () => {
        log.push(`${name}+`)
        await new Promise(resolve => setTimeout(resolve, 5))
        log.push(`${name}-`)
      })
    }
    await Promise.all([step('a', 'a1'), step('a', 'a2'), step('b', 'b1')])
    assert.deepEqual(log.filter(x => x.startsWith('a')), ['a1+', 'a1-', 'a2+', 'a2-'])
    assert.ok(log.indexOf('b1+') < log.indexOf('a1-'), 'b runs while a1 holds a')
    assert.equal(lock.size, 0)
    await assert.rejects(lock.run('a', async () => { throw new Error('boom') }), /boom/)
    assert.equal(await lock.run('a', async () => 7), 7)
  })
})
