/**
 * Child process of the redo crash test: creates files one after another (each create answered from
 * the redo log, before its commit) and gives every other one content, printing each name once its
 * calls resolved. The parent kills it with SIGKILL.
 */
import { createMetaStore } from '../../../src/meta/index.js'
import { ROOT_INO } from '../../../src/meta/types.js'

const path = process.argv[2]
const round = process.argv[3] ?? '0'
const s = createMetaStore({ path, deviceId: 'dev-redo' })
await s.start()
process.stdout.write('READY\n')

for (let i = 0; ; i++) {
  const name = `r${round}-${i}`
  const f = await s.create(ROOT_INO, name, { type: 'file', mode: 0o644, uid: 0, gid: 0 })
  if (i % 2 === 0) await s.setContent(f.ino, { size: 10, stripeSize: 4096, stripes: [{ index: 0, length: 10, id: `s${i}`, k: 1, n: 1, codecId: 0, fragments: [`c${i}`], holders: [] }] })
  process.stdout.write(`${name}\n`)
}
