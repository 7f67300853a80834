/**
 * The VFS's concurrency tools: the FIFO limiter never runs more than its limit, and the per-inode
 * lock runs holders in order, lets a cancelled waiter go at once, and keeps the order for the rest.
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { KeyedMutex, Limiter } from '../../../src/vfs/limiter.js'
import { rejectsWith } from '../../compliance/posix-tests.js'

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

it('limiter runs at most its limit at once, in FIFO order', async () => {
  const limiter = new Limiter(2)
  let running = 0
  let peak = 0
  const order: number[] = []
  await Promise.all(Array.from({ length: 8 }, async (_, i) => await limiter.run(async () => {
    running++
    peak = Math.max(peak, running)
    order.push(i)
    await tick()
    running--
  })))
  assert.equal(peak, 2)
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7])
  assert.equal(limiter.running, 0)
  assert.equal(limiter.queued, 0)
})

it('keyed mutex serialises one key, lets a cancelled waiter go, keeps order', async () => {
  const mutex = new KeyedMutex<number>()
  const events: string[] = []
  let openFirst!: () => void
  const firstHeld = new Promise<void>(resolve => { openFirst = resolve })
  const a = mutex.with(1, async () => { events.push('a in'); await firstHeld; events.push('a out') })
  const cancel = new AbortController()
  const b = mutex.with(1, async () => { events.push('b ran') }, cancel.signal)
  const c = mutex.with(1, async () => { events.push('c in') })
  const other = mutex.with(2, async () => { events.push('other key') })
  await other
  cancel.abort()
  await rejectsWith(b, 'EINTR')
  await tick()
  assert.deepEqual(events, ['a in', 'other key'])
  openFirst()
  await Promise.all([a, c])
  assert.deepEqual(events, ['a in', 'other key', 'a out', 'c in'])
})
