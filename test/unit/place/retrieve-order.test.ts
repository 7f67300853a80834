import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parityPenaltyMs, rankRemote } from '../../../src/place/retrieve.js'

const MIB = 1024 * 1024
const order = (sources: Array<{ index: number, device: string, expectedMs: number }>, k: number, bytes: number): string =>
  rankRemote(sources, k, bytes).map(s => `${s.device}:${s.index}`).join(' ')

describe('the order a read asks for fragments', () => {
  it('asks for data fragments before parity ones from about equally fast devices', () => {
    // Six devices, one fragment each, the parity holders a little faster (expected times are
    // averages that never tie): decoding from 0-3 needs no Reed-Solomon.
    const sources = [5, 4, 3, 2, 1, 0].map(i => ({ index: i, device: `d${i}`, expectedMs: 20 - i / 2 }))
    assert.equal(order(sources, 4, MIB), 'd3:3 d2:2 d1:1 d0:0 d5:5 d4:4')
  })

  it('still takes a parity fragment first from a device faster by more than the rebuild costs', () => {
    const penalty = parityPenaltyMs(4, MIB)
    assert.ok(penalty > 1 && penalty < 20, `a parity fragment of a 4 MiB stripe counts ${penalty} ms`)
    const sources = [
      { index: 0, device: 'slow', expectedMs: 50 },
      { index: 4, device: 'fast', expectedMs: 50 - penalty - 5 },
      { index: 5, device: 'near', expectedMs: 50 - penalty + 5 }
    ]
    assert.equal(order(sources, 4, MIB), 'fast:4 slow:0 near:5')
  })

  it('does not let the penalty matter for small fragments, and asks each device once before any twice', () => {
    const sources = [
      { index: 0, device: 'a', expectedMs: 3 },
      { index: 1, device: 'a', expectedMs: 3 },
      { index: 4, device: 'b', expectedMs: 2 },
      { index: 5, device: 'c', expectedMs: 4 }
    ]
    assert.equal(order(sources, 4, 1100), 'b:4 a:0 c:5 a:1')
  })
})
