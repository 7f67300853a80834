/**
 * Small parts of the journal: the hybrid logical clock, the op wire format and signatures, SQL
 * literals, time splitting, and group-committed fsync.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Hlc } from '../../../src/meta/hlc.js'
import { decodeOp, encodeOp, verifyOp, type Op } from '../../../src/meta/op.js'
import { joinTime, splitTime } from '../../../src/meta/records.js'
import { sqlBlob, sqlInt, sqlText } from '../../../src/meta/sql.js'
import { GroupSync } from '../../../src/meta/sync.js'
import { testSigner } from '../../compliance/meta-store-tests.js'

describe('meta parts', () => {
  it('HLC never goes back, follows the clock, and folds in remote stamps', () => {
    let now = 1000n
    const h = new Hlc(() => now, 0n)
    assert.equal(h.tick(), 1000n)
    assert.equal(h.tick(), 1001n, 'same physical time: logical tick')
    now = 500n
    assert.equal(h.tick(), 1002n, 'a clock that steps back does not move the HLC back')
    h.observe(5000n)
    assert.equal(h.tick(), 5001n)
    now = 9000n
    assert.equal(h.tick(), 9000n)
  })

  it('encodes ops with bigints and bytes, verifies signatures, rejects junk', () => {
    const signer = testSigner()
    const op: Op = { v: 1, hlc: 2n ** 62n, author: 'dev', seq: 7, time: -3n, kind: 'setxattr', node: '1@dev', name: 'user.a', value: new Uint8Array([0, 1, 255]), mode: 'create' }
    const body = encodeOp(op)
    assert.deepEqual(decodeOp(body), op)
    const sig = signer.sign(Buffer.from(body))
    assert.equal(verifyOp({ op, body, sig }, signer.publicKey), true)
    assert.equal(verifyOp({ op, body: body.replace('user.a', 'user.b'), sig }, signer.publicKey), false)
    assert.equal(verifyOp({ op, body }, signer.publicKey), false, 'unsigned')
    assert.throws(() => decodeOp('{nope'), { name: 'ProtocolError' })
    assert.throws(() => decodeOp('{"v":99,"kind":"create"}'), { name: 'ProtocolError' })
    assert.throws(() => decodeOp(body.replace('"time":"-3"', '"time":"x"')), { name: 'ProtocolError' })
  })

  it('splits signed nanoseconds exactly', () => {
    for (const ns of [0n, 1n, -1n, 999_999_999n, -999_999_999n, -1_000_000_000n, 2n ** 63n, -(2n ** 63n) + 1n]) {
      const [s, n] = splitTime(ns)
      assert.ok(n >= 0 && n < 1e9)
      assert.equal(joinTime(s, n), ns)
    }
  })

  it('quotes SQL literals and rejects what cannot be stored', () => {
    assert.equal(sqlText("it's"), "'it''s'")
    assert.throws(() => sqlText('a\0b'), { name: 'InvalidArgumentError' })
    assert.equal(sqlBlob(new Uint8Array([0, 255])), "X'00ff'")
    assert.throws(() => sqlInt(2 ** 53), { name: 'InvalidArgumentError' })
    assert.throws(() => sqlInt(1.5), { name: 'InvalidArgumentError' })
  })

  it('shares one fsync among concurrent callers', async () => {
    let runs = 0
    let release: (() => void) | undefined
    const g = new GroupSync(async () => { runs++; await new Promise<void>((resolve) => { release = resolve }) })
    const first = g.sync()
    const waiting = Array.from({ length: 10 }, async () => { await g.sync() })
    assert.equal(runs, 1)
    release?.()
    await first
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(runs, 2, 'callers that came during the first fsync share the second')
    release?.()
    await Promise.all(waiting)
    assert.equal(runs, 2)
  })
})
