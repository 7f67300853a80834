/**
 * A writer for the crash test, run as its own process against a mount: writes files of random
 * sizes (some overwritten in place, some saved editor-style: temp file + rename over) and appends
 * one JSON line per completed file to a log on local disk, only after close() (and rename) returned.
 * Before an in-place rewrite (which truncates the file at open) it logs `{"rewriting": name}`, so
 * the test knows that file's content may legitimately be the new, partial one after a crash.
 *   node crash-writer.js MOUNTDIR LOGFILE SEED
 */
import { appendFileSync } from 'node:fs'
import { open, rename } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join } from 'node:path'

const [dir, logFile, seedText] = process.argv.slice(2)
let seed = Number(seedText) >>> 0
const rand = (): number => {
  seed = (seed + 0x6d2b79f5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

function content (size: number): Buffer {
  const b = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i += 4) b.writeUInt32LE((rand() * 2 ** 32) >>> 0, Math.min(i, size - 4 < 0 ? 0 : size - 4))
  if (size < 4) for (let i = 0; i < size; i++) b[i] = (rand() * 256) | 0
  return b
}

async function main (): Promise<void> {
  for (let i = 0; ; i++) {
    const r = rand()
    const size = r < 0.3 ? Math.floor(rand() * 4096) : r < 0.8 ? Math.floor(rand() * 300_000) : Math.floor(rand() * 3_000_000)
    const data = content(size)
    const name = `f${Math.floor(rand() * 40)}`
    const editorStyle = rand() < 0.3
    const path = join(dir, name)
    const writePath = editorStyle ? join(dir, `.${name}.tmp${i}`) : path
    if (!editorStyle) appendFileSync(logFile, JSON.stringify({ rewriting: name }) + '\n')
    const fh = await open(writePath, 'w')
    for (let o = 0; o < data.length; o += 128 * 1024) await fh.write(data, o, Math.min(128 * 1024, data.length - o), o)
    if (data.length === 0) await fh.truncate(0)
    await fh.close()
    if (editorStyle) await rename(writePath, path)
    appendFileSync(logFile, JSON.stringify({ name, size, sha256: createHash('sha256').update(data).digest('hex') }) + '\n')
  }
}

main().catch((err) => {
  process.stderr.write(`crash-writer stopped: ${(err as Error).message}\n`)
  process.exit(3)
})
