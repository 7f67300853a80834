/**
 * The seeded random differential workload shared by the in-process test (test/unit/vfs) and the one
 * through a real mount (test/integration): thousands of file-system operations applied to a target
 * under test and to a local directory through node:fs, with the outcome (result or errno) and then
 * the whole tree (names, types, sizes, modes, link counts, symlink targets, content hashes) compared
 * after every step. A failure prints the seed; rerun it with PALM_DIFF_SEED=<seed> (and
 * PALM_DIFF_STEPS=<n>).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { constants as C } from 'node:fs'
import type { PosixTarget } from './posix-target.js'
import { prng } from '../helpers/prng.js'


const DIRS = ['/d1', '/d2', '/d1/d3', '/d2/d4']
const FILES = ['/a', '/b', '/c', '/d1/a', '/d1/e', '/d2/b', '/d1/d3/f', '/d2/d4/g', '/nodir/x']
const PATHS = [...DIRS, ...FILES]

interface Outcome { ok: boolean, value?: unknown, code?: string }

async function outcome (p: Promise<unknown>): Promise<Outcome> {
  try {
    const value = await p
    return { ok: true, value: value instanceof Uint8Array ? sha(value) : value }
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (typeof code !== 'string' || code.startsWith('ERR_')) throw err
    if (process.env.PALM_DIFF_VERBOSE != null) console.error('  ', (err as Error).stack)
    return { ok: false, code }
  }
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Everything observable about a tree, as one comparable list of lines. */
async function snapshot (t: PosixTarget, dir = '/'): Promise<string[]> {
  const out: string[] = []
  const names = (await t.readdir(dir)).sort()
  for (const name of names) {
    const path = dir === '/' ? `/${name}` : `${dir}/${name}`
    const st = await t.lstat(path)
    const type = st.mode & 0o170000
    const perm = (st.mode & 0o7777).toString(8)
    if (type === 0o040000) {
      out.push(`${path} dir ${perm}`)
      out.push(...await snapshot(t, path))
    } else if (type === 0o120000) {
      out.push(`${path} symlink -> ${await t.readlink(path)}`)
    } else {
      out.push(`${path} file ${perm} size=${st.size} nlink=${st.nlink} sha=${sha(await t.readFile(path)).slice(0, 16)}`)
    }
  }
  return out
}

type Step = (t: PosixTarget) => Promise<unknown>

/** Picks one operation; both targets run the same closure. */
function pickStep (rand: () => number, STRIPE: number): { what: string, run: Step } {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]
  const size = (): number => {
    const r = rand()
    return r < 0.2 ? 0 : r < 0.7 ? Math.floor(rand() * 3000) : Math.floor(rand() * 3.5 * STRIPE)
  }
  const bytes = (n: number): Uint8Array => {
    const b = new Uint8Array(n)
    let x = Math.floor(rand() * 2 ** 31)
    for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) & 0x7fffffff; b[i] = x >>> 16 }
    return b
  }
  const f = pick(FILES)
  const g = pick(PATHS)
  const d = pick(DIRS)
  const r = rand()
  if (r < 0.16) {
    const data = bytes(size())
    return { what: `writeFile ${f} (${data.length})`, run: async (t) => { await t.writeFile(f, data) } }
  }
  if (r < 0.30) {
    const at = Math.floor(rand() * 3 * STRIPE)
    const data = bytes(1 + Math.floor(rand() * (rand() < 0.7 ? 5000 : 2 * STRIPE)))
    return {
      what: `pwrite ${f} @${at} (${data.length})`,
      run: async (t) => { const fd = await t.open(f, C.O_WRONLY); try { await t.write(fd, data, at) } finally { await t.close(fd) } }
    }
  }
  if (r < 0.36) {
    const data = bytes(1 + Math.floor(rand() * 4000))
    return {
      what: `append ${f} (${data.length})`,
      run: async (t) => { const fd = await t.open(f, C.O_WRONLY | C.O_APPEND | C.O_CREAT, 0o644); try { await t.write(fd, data) } finally { await t.close(fd) } }
    }
  }
  if (r < 0.42) {
    const n = size()
    return { what: `truncate ${f} ${n}`, run: async (t) => { await t.truncate(f, n) } }
  }
  if (r < 0.48) return { what: `unlink ${g}`, run: async (t) => { await t.unlink(g) } }
  if (r < 0.55) return { what: `mkdir ${d}`, run: async (t) => { await t.mkdir(d, 0o755) } }
  if (r < 0.59) return { what: `rmdir ${g}`, run: async (t) => { await t.rmdir(g) } }
  if (r < 0.68) {
    const to = pick(PATHS)
    return { what: `rename ${g} ${to}`, run: async (t) => { await t.rename(g, to) } }
  }
  if (r < 0.73) {
    const to = pick(FILES)
    return { what: `link ${f} ${to}`, run: async (t) => { await t.link(f, to) } }
  }
  if (r < 0.76) {
    // Only downward targets: a link moved to the root must never point outside the local tree.
    const target = pick(['a', 'b', 'd3/f', 'nowhere'])
    return { what: `symlink ${target} ${f}`, run: async (t) => { await t.symlink(target, f) } }
  }
  if (r < 0.80) {
    const mode = pick([0o600, 0o644, 0o755, 0o4711])
    return { what: `chmod ${g} ${mode.toString(8)}`, run: async (t) => { await t.chmod(g, mode) } }
  }
  if (r < 0.86) return { what: `readFile ${f}`, run: async (t) => await t.readFile(f) }
  if (r < 0.93) {
    const data = bytes(1 + Math.floor(rand() * 2 * STRIPE))
    const at = Math.floor(rand() * 2 * STRIPE)
    return {
      what: `open ${f}, unlink, write @${at} (${data.length}), read back, close`,
      run: async (t) => {
        const fd = await t.open(f, C.O_RDWR)
        try {
          await t.unlink(f)
          await t.write(fd, data, at)
          const st = await t.fstat(fd)
          return [st.size, st.nlink, sha(await t.read(fd, st.size, 0))]
        } finally { await t.close(fd) }
      }
    }
  }
  const a = bytes(1 + Math.floor(rand() * STRIPE))
  const b = bytes(1 + Math.floor(rand() * STRIPE))
  const at = Math.floor(rand() * STRIPE)
  return {
    what: `two fds on ${f}: write @0 (${a.length}) and @${at} (${b.length}), cross-read`,
    run: async (t) => {
      const x = await t.open(f, C.O_RDWR | C.O_CREAT, 0o644)
      try {
        const y = await t.open(f, C.O_RDWR)
        try {
          await t.write(x, a, 0)
          await t.write(y, b, at)
          const st = await t.fstat(x)
          return [st.size, sha(await t.read(y, st.size, 0))]
        } finally { await t.close(y) }
      } finally { await t.close(x) }
    }
  }
}

export interface DifferentialOptions {
  /** Steps to run (default PALM_DIFF_STEPS or 2000). */
  steps?: number
  /** The target's stripe size: writes and truncates are sized around it. */
  stripeBytes: number
  /** Checked after every step (e.g. no descriptor left open). */
  afterStep?: () => void
}

/** Runs the workload on `target` and `local`; asserts they agree after every step. */
export async function runDifferential (target: PosixTarget, local: PosixTarget, options: DifferentialOptions): Promise<void> {
  const steps = options.steps ?? Number(process.env.PALM_DIFF_STEPS ?? 2000)
  const seed = Number(process.env.PALM_DIFF_SEED ?? Math.floor(Math.random() * 2 ** 31))
  const rand = prng(seed)
  const history: string[] = []
  try {
    for (let step = 0; step < steps; step++) {
      const { what, run } = pickStep(rand, options.stripeBytes)
      history.push(what)
      const [got, want] = [await outcome(run(target)), await outcome(run(local))]
      assert.deepEqual(got, want, `step ${step}: ${what}`)
      assert.deepEqual(await snapshot(target), await snapshot(local), `tree after step ${step}: ${what}`)
      options.afterStep?.()
    }
  } catch (err) {
    console.error(`differential test failed with PALM_DIFF_SEED=${seed}; last steps:\n  ${history.slice(process.env.PALM_DIFF_VERBOSE != null ? 0 : -15).map((h, i, a) => `${history.length - a.length + i}: ${h}`).join('\n  ')}`)
    throw err
  }
}
