/**
 * Child process of the early-create crash test: four writers create files with createEarly, some
 * followed by a setContent (a file's close), others by committed() alone (an empty file's close),
 * and print each name once that has resolved. The parent kills it with SIGKILL.
 */
import { createMetaStore } from '../../../src/meta/index.js'
import { ROOT_INO } from '../../../src/meta/types.js'

const path = process.argv[2]
const s = createMetaStore({ path, deviceId: 'dev-early' })
await s.start()
process.stdout.write('READY\n')

await Promise.all(Array.from({ length: 4 }, async (_, w) => {
  for (let i = 0; ; i++) {
    const name = `w${w}-${i}`
    const { attr, committed } = await s.createEarly(ROOT_INO, name, { type: 'file', mode: 0o644, uid: 0, gid: 0 })
    if (i % 2 === 0) await s.setContent(attr.ino, { size: 0, stripeSize: 4096, stripes: [] })
    else await committed()
    process.stdout.write(`${name}\n`)
  }
}))
