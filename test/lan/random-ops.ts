/**
 * Random file-system ops through a real mount, mirrored on a model of that device's own view, for
 * the seeded differential test on the namespace LAN. The model is what POSIX says this device must
 * see while it is cut off from the others: each op is applied to the model only when the mount
 * accepted it, and the test then checks the mount's names against it. Names come from small pools,
 * so devices collide on purpose (same names, same files, crossed moves). Every write is whole and
 * unique (files stay within one stripe), so each version of each file has its own hash.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { appendFile, link, lstat, mkdir, readdir, rename, rmdir, unlink, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { renameInModel } from '../helpers/path-model.js'
import { hashOf } from './trees.js'

export interface ModelNode { type: 'file' | 'dir', hash?: string }

/** A device's view: relative path → node (hard links share one node object). */
export type Model = Map<string, ModelNode>

const FILE_NAMES = ['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7']
const DIR_NAMES = ['d0', 'd1', 'd2', 'd3']
const XATTR_NAMES = ['user.a', 'user.b']

/** The model of what is under `root` now: names, types, hard links (by inode), and hashes from `hashes` (path → hash). */
export async function modelOf (root: string, hashes: Map<string, string>): Promise<Model> {
  const model: Model = new Map()
  const byIno = new Map<bigint, ModelNode>()
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      const rel = relative(root, p)
      if (e.isDirectory()) {
        model.set(rel, { type: 'dir' })
        await walk(p)
        continue
      }
      const { ino } = await lstat(p, { bigint: true })
      const node = byIno.get(ino) ?? { type: 'file' as const, hash: hashes.get(rel) }
      byIno.set(ino, node)
      model.set(rel, node)
    }
  }
  await walk(root)
  return model
}

/** Names and types under `root`, read without touching file contents (works cut off from the swarm). */
export async function namesOf (root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      out.set(relative(root, p), e.isDirectory() ? 'dir' : 'file')
      if (e.isDirectory()) await walk(p)
    }
  }
  await walk(root)
  return out
}

export function namesOfModel (model: Model): Map<string, string> {
  return new Map([...model].map(([p, n]) => [p, n.type]))
}

export interface OpRun {
  /** Ops the mount accepted, and those it refused (EEXIST, ENOTEMPTY, a move into itself, …). */
  applied: number
  refused: number
}

/**
 * Runs `count` random ops on the mount at `root`, mirroring each accepted one on `model`. Every
 * content written is added to `written` (hash). `tag` makes contents unique across devices.
 */
export async function runRandomOps (root: string, model: Model, count: number, rand: () => number, tag: string, written: Set<string>): Promise<OpRun> {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]
  const dirs = (): string[] => ['', ...[...model].filter(([, n]) => n.type === 'dir').map(([p]) => p)]
  const files = (): string[] => [...model].filter(([, n]) => n.type === 'file').map(([p]) => p)
  const abs = (p: string): string => join(root, p)
  const content = (): Buffer => Buffer.concat([Buffer.from(`${tag} ${written.size} `), randomBytes(Math.floor(rand() * 20_000))])
  const run: OpRun = { applied: 0, refused: 0 }
  // PALM_DIFF_TRACE=DIR writes each op and its outcome to DIR/TAG.ops, to read a failing seed.
  const traceDir = process.env.PALM_DIFF_TRACE
  const lines: string[] = []
  const trace = (line: string): void => { if (traceDir != null) lines.push(line) }
  for (let i = 0; i < count; i++) {
    const r = rand()
    try {
      if (r < 0.2 || files().length === 0) {
        // create (or overwrite, if the name is taken by a file)
        const p = join(pick(dirs()), pick(FILE_NAMES))
        if (model.get(p)?.type === 'dir') { run.refused++; continue }
        const bytes = content()
        await writeFile(abs(p), bytes)
        const node = model.get(p) ?? { type: 'file' as const }
        node.hash = hashOf(bytes)
        model.set(p, node)
        trace(`${i} create ${p} ${node.hash.slice(0, 8)}`)
        written.add(node.hash)
      } else if (r < 0.45) {
        const p = pick(files())
        const bytes = content()
        await writeFile(abs(p), bytes)
        const node = model.get(p) as ModelNode
        node.hash = hashOf(bytes)
        written.add(node.hash)
        trace(`${i} write ${p} ${node.hash.slice(0, 8)}`)
      } else if (r < 0.6) {
        const all = [...model.keys()]
        const src = pick(all)
        const node = model.get(src) as ModelNode
        const dst = join(pick(dirs()), pick(node.type === 'dir' ? DIR_NAMES : FILE_NAMES))
        trace(`${i} rename ${src} ${dst}`)
        await rename(abs(src), abs(dst))
        renameInModel(model, src, dst)
      } else if (r < 0.7) {
        const p = pick(files())
        trace(`${i} unlink ${p}`)
        await unlink(abs(p))
        model.delete(p)
      } else if (r < 0.78) {
        const p = join(pick(dirs()), pick(DIR_NAMES))
        trace(`${i} mkdir ${p}`)
        await mkdir(abs(p))
        model.set(p, { type: 'dir' })
      } else if (r < 0.84) {
        const ds = dirs().filter(d => d !== '')
        if (ds.length === 0) { run.refused++; continue }
        const p = pick(ds)
        trace(`${i} rmdir ${p}`)
        await rmdir(abs(p))
        model.delete(p)
      } else if (r < 0.9) {
        const src = pick(files())
        const dst = join(pick(dirs()), pick(FILE_NAMES))
        trace(`${i} link ${src} ${dst}`)
        await link(abs(src), abs(dst))
        model.set(dst, model.get(src) as ModelNode)
      } else {
        const p = pick([...model.keys()])
        trace(`${i} xattr ${p}`)
        await setXattr(abs(p), pick(XATTR_NAMES), `${tag}-${i}`)
      }
      run.applied++
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      trace(`${i}   refused ${code ?? ''}`)
      if (!['EEXIST', 'ENOTEMPTY', 'EINVAL', 'EISDIR', 'ENOTDIR', 'ENOENT'].includes(code ?? '')) throw new Error(`${tag}: op ${i} failed: ${(err as Error).message}`, { cause: err })
      run.refused++
    }
  }
  if (traceDir != null) await appendFile(join(traceDir, `${tag}.ops`), lines.join('\n') + '\n')
  return run
}

async function setXattr (path: string, name: string, value: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile('setfattr', ['-n', name, '-v', value, '--', path], (err, _out, stderr) => {
      if (err == null) { resolve(); return }
      const code = /No such file/.test(stderr) ? 'ENOENT' : undefined
      reject(Object.assign(new Error(`setfattr ${name} on ${path}: ${stderr.trim()}`), { code }))
    })
  })
}
