/**
 * Dedup on the put path (src/place/sender.ts): the encoding is convergent, so writing the same
 * content again gives the same fragments for the same devices; a device asked first (`has`) for a
 * big enough call is sent only what it lacks. Real PALM nodes on loopback.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { createPoolRig } from './pool-rig.js'

describe('pool writes send nothing twice', () => {
  it('the same 1 MiB stripe written twice: the second write sends no fragment bytes, and reads back', async t => {
    const rig = await createPoolRig(t, { devices: 6, spreader: false })
    const data = new Uint8Array(randomBytes(1024 * 1024 + 1))
    const first = await rig.io.write(data, { k: 4, n: 6 }, { file: '/a' })
    const after1 = rig.io.stats()
    const fragmentBytes = (data.byteLength / 4) | 0
    assert.ok(after1.bytesSent >= 5 * fragmentBytes, `the first write sent 5 fragments (${after1.bytesSent} bytes)`)
    assert.equal(after1.bytesDeduplicated, 0)
    const second = await rig.io.write(data, { k: 4, n: 6 }, { file: '/b' })
    const after2 = rig.io.stats()
    assert.deepEqual(second.fragments, first.fragments, 'convergent: the same fragments')
    assert.equal(after2.bytesSent - after1.bytesSent, 0, 'nothing sent again')
    assert.equal(after2.bytesDeduplicated, after1.bytesSent)
    t.diagnostic(`first write sent ${after1.bytesSent} bytes; second sent ${after2.bytesSent - after1.bytesSent}, skipped ${after2.bytesDeduplicated}`)
    assert.ok(Buffer.from(await rig.io.read(second)).equals(Buffer.from(data)))
  })
})
