/**
 * Redo frames written many at a time (`encodeFrames`, one buffer for a merge's ops) are byte for
 * byte the documented format, frame after frame, and read back as they were written.
 */
import assert from 'node:assert/strict'
import { crc32 } from 'node:zlib'
import { describe, it } from 'node:test'
import { encodeFrames, parseSegment } from '../../../src/meta/redo-frames.js'

/** One frame as docs/durability.md and redo-frames.ts describe it, built field by field. */
function frameByHand (text: string, sig?: Uint8Array): Buffer {
  const payload = Buffer.from(`${sig != null ? Buffer.from(sig).toString('hex') : ''}\n${text}`, 'utf8')
  const length = Buffer.alloc(4)
  length.writeUInt32LE(payload.length)
  const crc = Buffer.alloc(4)
  crc.writeUInt32LE(crc32(Buffer.concat([length, payload])))
  return Buffer.concat([Buffer.from('PRD1', 'latin1'), length, crc, payload])
}

/** `bytes` as a view at offset 5 of a larger buffer. */
function inside (bytes: Uint8Array): Uint8Array {
  const backing = new Uint8Array(bytes.byteLength + 10).fill(0xee)
  backing.set(bytes, 5)
  return backing.subarray(5, 5 + bytes.byteLength)
}

describe('redo frames', () => {
  const sig = new Uint8Array(64).map((_, i) => (i * 37) & 0xff)
  const recs = [
    { text: '{"kind":"create","name":"a"}' },
    { text: '{"kind":"create","name":"é ü 名前 😀"}', sig },
    { text: '' },
    // A signature that is a view into a larger buffer: only its own bytes are written.
    { text: '{"kind":"unlink"}', sig: inside(sig) }
  ]

  it('writes each record as the documented frame, one after the other', () => {
    assert.deepEqual(encodeFrames(recs), Buffer.concat(recs.map(r => frameByHand(r.text, r.sig))))
    assert.deepEqual(encodeFrames([recs[1]]), frameByHand(recs[1].text, sig))
    assert.equal(encodeFrames([]).length, 0)
  })

  it('reads back what it wrote', () => {
    const parsed = parseSegment(encodeFrames(recs))
    assert.deepEqual(parsed.damaged, [])
    assert.equal(parsed.tail, undefined)
    assert.deepEqual(parsed.frames.map(f => f.text), recs.map(r => r.text))
    assert.deepEqual(parsed.frames.map(f => f.sig == null ? undefined : Buffer.from(f.sig).toString('hex')), recs.map(r => r.sig == null ? undefined : Buffer.from(sig).toString('hex')))
  })
})
