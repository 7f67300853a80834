/**
 * A load generator for the binding's concurrency test, run as its own process against a mount:
 * node fuse-load-worker.js <dir> <worker-id> <iterations> <parallel>. Each of `parallel` chains
 * creates a file with random content, checks its size and bytes, renames it, finds it in a
 * listing, stats a shared file and removes its own. Exits 0 when every check held, 1 otherwise.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const [dir, id, iterations, parallel] = process.argv.slice(2)

function digest (b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

async function chain (c: number): Promise<void> {
  for (let i = 0; i < Number(iterations); i++) {
    const name = join(dir, `w${id}-${c}-${i}`)
    const data = randomBytes(1 + Math.floor(Math.random() * 300_000))
    await writeFile(name, data)
    if ((await stat(name)).size !== data.length) throw new Error(`${name}: size after write differs`)
    if (digest(await readFile(name)) !== digest(data)) throw new Error(`${name}: content read back differs`)
    await rename(name, `${name}.r`)
    if (!(await readdir(dir)).includes(`w${id}-${c}-${i}.r`)) throw new Error(`${name}.r missing from listing`)
    await stat(join(dir, 'shared'))
    await unlink(`${name}.r`)
  }
}

try {
  await Promise.all(Array.from({ length: Number(parallel) }, async (_v, c) => { await chain(c) }))
} catch (err) {
  console.error(`worker ${id}: ${(err as Error).message}`)
  process.exit(1)
}
