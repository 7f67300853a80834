/**
 * Trees seen through mounts, for the namespace LAN tests: every path with its type and its bytes'
 * hash, the differences between two such trees, extended attributes, and a poll that waits for no
 * differences. Reads only with async calls: the daemons serving these mounts are other processes.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'

/** Every file and directory under `dir`: relative path → 'dir' or the file's SHA-256. */
export async function treeOf (dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) { out.set(relative(dir, p), 'dir'); await walk(p) } else out.set(relative(dir, p), hashOf(await readFile(p)))
    }
  }
  await walk(dir)
  return out
}

export function hashOf (bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** What differs between two trees (or any two path → value maps), one line per path. */
export function diff (a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = []
  for (const [k, v] of a) if (b.get(k) !== v) out.push(`${k}: ${v.slice(0, 8)} vs ${b.get(k)?.slice(0, 8) ?? 'missing'}`)
  for (const k of b.keys()) if (!a.has(k)) out.push(`${k}: missing vs ${b.get(k)?.slice(0, 8) ?? ''}`)
  return out
}

/** The user.* extended attributes under `dir`: "relative path\0name" → value (hex), by one getfattr. */
export async function xattrsOf (dir: string): Promise<Map<string, string>> {
  const text = await new Promise<string>((resolve, reject) => {
    execFile('getfattr', ['-R', '-d', '-m', '^user\\.', '-e', 'hex', '--absolute-names', '--', dir], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      if (err != null && stdout === '') reject(err)
      else resolve(stdout)
    })
  })
  const out = new Map<string, string>()
  let file = ''
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) file = relative(dir, line.slice('# file: '.length))
    else if (line.includes('=')) {
      const at = line.indexOf('=')
      out.set(`${file}\0${line.slice(0, at)}`, line.slice(at + 1))
    }
  }
  return out
}

/** Polls until `check` returns nothing (no differences); throws with the last differences. */
export async function until (what: string, timeoutMs: number, check: () => Promise<string[]>): Promise<number> {
  const t0 = performance.now()
  for (;;) {
    let problems: string[]
    try { problems = await check() } catch (err) { problems = [(err as Error).message] }
    if (problems.length === 0) return performance.now() - t0
    if (performance.now() - t0 > timeoutMs) throw new Error(`${what} not reached within ${timeoutMs} ms: ${problems.slice(0, 8).join('; ')}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
