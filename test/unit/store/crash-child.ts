/**
 * Child process of crash.test.ts: puts random fragments (small and large, 16 at a time) into the
 * store at argv[2] forever, printing each CID once its put has returned, until it is killed.
 */
import { randomBytes } from 'node:crypto'
import { createFsStore } from '../../../src/store/index.js'
import { cidOf } from '../../../src/util/cid.js'

const store = createFsStore({ path: process.argv[2], capacityBytes: 1024 ** 3, segmentBytes: 256 * 1024, packThresholdBytes: 64 * 1024 })
await store.start()
process.stdout.write('READY\n')
let n = 0
await Promise.all(Array.from({ length: 16 }, async () => {
  for (;;) {
    const i = n++
    const bytes = randomBytes(i % 5 === 0 ? 100_000 + (i % 7) * 1000 : 500 + (i % 13) * 300)
    const cid = cidOf(bytes)
    await store.put(cid, bytes)
    process.stdout.write(`${cid.toString()}\n`)
    if (i % 50 === 0) await store.sync()
  }
}))
