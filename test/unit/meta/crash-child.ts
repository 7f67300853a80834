/**
 * Child process of the crash test: writes ops in a loop from several concurrent writers and prints
 * "<writer> <i>" on stdout after each group of ops has resolved. The parent kills it with SIGKILL.
 * Per step i of writer w in run r: create d<r>-<w>/f<i>, give it one stripe, and rename every third file to
 * d<r>-<w>/r<i>, and set an xattr on every fifth.
 */
import { createMetaStore } from '../../../src/meta/index.js'
import { ROOT_INO } from '../../../src/meta/types.js'

const path = process.argv[2]
const writers = Number(process.argv[3] ?? '8')
const run = process.argv[4] ?? '0'
const s = createMetaStore({ path, deviceId: 'crash-dev' })
await s.start()
process.stdout.write('READY\n')

await Promise.all(Array.from({ length: writers }, async (_, w) => {
  const d = await s.create(ROOT_INO, `d${run}-${w}`, { type: 'dir', mode: 0o755, uid: 0, gid: 0 })
  for (let i = 0; ; i++) {
    const f = await s.create(d.ino, `f${i}`, { type: 'file', mode: 0o644, uid: 0, gid: 0 })
    await s.setContent(f.ino, {
      size: 100 + i,
      stripeSize: 4096,
      stripes: [{ index: 0, length: 100 + i, id: `s${w}-${i}`, k: 1, n: 1, codecId: 0, fragments: [`c${w}-${i}`], holders: [] }]
    })
    if (i % 3 === 0) await s.rename(d.ino, `f${i}`, d.ino, `r${i}`)
    if (i % 5 === 0) await s.setxattr(f.ino, 'user.step', new TextEncoder().encode(String(i)))
    process.stdout.write(`${w} ${i}\n`)
  }
}))
