/**
 * The fragment client's session pool (src/net/protocols/session-pool.ts) on its own, over streams
 * that only keep their state: the per-peer cap, first come first served, fresh sessions, and a peer
 * that cannot be reached. The same pool over real libp2p nodes: client-errors.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { peerIdFromString } from '@libp2p/peer-id'
import { NotConnectedError } from '../../../src/errors.js'
import { Session, SessionPool, type SessionOwner } from '../../../src/net/protocols/session-pool.js'
import type { FramedStream } from '../../../src/net/protocols/frames.js'

const PEER = peerIdFromString('12D3KooWN5vd7DZV81MGDyTUBRcomeP3goHxAQ1gK62jzDvBtbsf')

/** A stream as the pool sees it: open until both sides closed (the peer answers a close later) or reset. */
class FakeStream extends EventTarget {
  status = 'open'
  writeStatus = 'writable'
  remoteWriteStatus = 'writable'
  constructor (readonly onGone: () => void) { super() }
  async close (): Promise<void> {
    this.writeStatus = 'closed'
    setImmediate(() => { this.#end('closed') })
  }

  abort (): void { this.#end('aborted') }
  #end (status: string): void {
    if (this.status !== 'open') return
    this.status = status
    this.onGone()
    this.dispatchEvent(new Event('close'))
  }
}

const owner: SessionOwner = {
  limits: { requestTimeoutMs: 1_000, maxFragmentBytes: 1 << 20, maxBatchCount: 64 },
  shutdown: new AbortController().signal,
  mapError: (err) => err as Error
}

/** A pool whose opener counts the streams alive at once; `failWith` makes the next opens fail. */
function rig (maxOpenPerPeer: number): { pool: SessionPool, live: () => number, most: () => number, opened: () => number, failWith: (e?: Error) => void } {
  let live = 0
  let most = 0
  let opened = 0
  let failure: Error | undefined
  const pool = new SessionPool({ maxOpenPerPeer, maxIdlePerPeer: maxOpenPerPeer }, async (peer) => {
    await new Promise(resolve => setImmediate(resolve))
    if (failure != null) throw failure
    opened++
    most = Math.max(most, ++live)
    const stream = new FakeStream(() => { live-- })
    return new Session({ stream } as unknown as FramedStream, peer.toString(), 'peer', owner)
  })
  return { pool, live: () => live, most: () => most, opened: () => opened, failWith: (e) => { failure = e } }
}

const abortOf = (s: Session): void => { s.framed.stream.abort(new Error('reset')) }

describe('fragment session pool', { timeout: 20_000 }, () => {
  it('never has more than the cap open, also when several streams end at once with requests waiting', async () => {
    const r = rig(2)
    const held = [await r.pool.acquire(PEER, 'get'), await r.pool.acquire(PEER, 'get')]
    const waiting = [r.pool.acquire(PEER, 'get'), r.pool.acquire(PEER, 'get')]
    // a lost connection ends every stream on it in one go: each freed slot goes to a waiting request
    held.forEach(abortOf)
    const [a, b] = await Promise.all(waiting)
    assert.equal(r.live(), 2)
    // newcomers find both slots taken
    const late = [r.pool.acquire(PEER, 'get'), r.pool.acquire(PEER, 'put')]
    for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve))
    assert.equal(r.live(), 2)
    r.pool.release(a)
    abortOf(b)
    const [c] = await Promise.all(late)
    assert.equal(c, a, 'the released session went to the first request waiting')
    assert.ok(r.most() <= 2, `at most 2 streams at once, saw ${r.most()}`)
  })

  it('serves waiting requests first come, first served: a loop of acquire and release does not pass them', async () => {
    const r = rig(1)
    let s = await r.pool.acquire(PEER, 'put')
    const order: string[] = []
    const queued = r.pool.acquire(PEER, 'get').then(q => { order.push('queued'); return q })
    for (let i = 0; i < 5; i++) {
      r.pool.release(s)
      const next = r.pool.acquire(PEER, 'put').then(n => { order.push(`loop ${i}`); return n })
      if (i === 0) r.pool.release(await queued)
      s = await next
    }
    assert.equal(order[0], 'queued')
    assert.equal(r.opened(), 1)
  })

  it('gives a fresh request (a retry) a new stream even when every slot holds an idle session', async () => {
    const r = rig(2)
    const [a, b] = [await r.pool.acquire(PEER, 'get'), await r.pool.acquire(PEER, 'get')]
    r.pool.release(a)
    r.pool.release(b)
    const fresh = await r.pool.acquire(PEER, 'get', { fresh: true })
    assert.notEqual(fresh, a)
    assert.notEqual(fresh, b)
    assert.equal(r.opened(), 3)
    assert.ok(r.most() <= 2)
  })

  it('fails the requests waiting for a peer that cannot be reached, with its error', async () => {
    const r = rig(1)
    const s = await r.pool.acquire(PEER, 'get')
    const waiting = [r.pool.acquire(PEER, 'get'), r.pool.acquire(PEER, 'put')]
    r.failWith(new NotConnectedError('cannot reach peer for fragment get; is it online?'))
    abortOf(s)
    for (const w of waiting) await assert.rejects(w, { name: 'NotConnectedError' })
  })

  it('lets a waiting request be cancelled, and what it would have got goes to the next', async () => {
    const r = rig(1)
    const s = await r.pool.acquire(PEER, 'get')
    const cancel = new AbortController()
    const first = r.pool.acquire(PEER, 'get', { signal: cancel.signal })
    const second = r.pool.acquire(PEER, 'get')
    cancel.abort()
    await assert.rejects(first, { name: 'AbortedError' })
    r.pool.release(s)
    assert.equal(await second, s)
  })
})
