/**
 * The workload of the side-by-side benchmark, one step at a time on a directory of the file system
 * under test: dd with conv=fsync, fio 4 KiB random I/O, small files, rsync and tar of a source
 * tree, SQLite transactions (rollback journal and WAL) and fsync latency. Every step returns what
 * it measured; none of them restarts or remounts anything (the caller makes reads cold).
 */
import { spawnSync } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { closeSync, copyFileSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import sqlite3 from 'sqlite3'
import { parseFioIops, percentile } from './compare.js'
import { seconds, timeProcess } from './measure.js'

/** CPU seconds (user + system, all threads) the processes have used so far; gone ones count 0. */
export function cpuSeconds (pids: number[]): number {
  let ticks = 0
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
      ticks += Number(f[11]) + Number(f[12])
    } catch {}
  }
  return ticks / 100
}

/** MB/s of `dd bs=1M conv=fsync` of `mib` MiB from `src` to `file` (to dd's exit: the fsync and close included). */
export const seqWrite = (src: string, file: string, mib: number): number =>
  mib * 1.048576 / timeProcess('dd', [`if=${src}`, `of=${file}`, 'bs=1M', `count=${mib}`, 'conv=fsync'])

/** MB/s of reading `file` (`mib` MiB) with dd bs=1M. */
export const seqRead = (file: string, mib: number): number =>
  mib * 1.048576 / timeProcess('dd', [`if=${file}`, 'of=/dev/null', 'bs=1M'])

export type FioMode = 'randread' | 'randwrite' | 'randwrite-fdatasync'

/** IOPS of one time-based fio job of 4 KiB random I/O over the existing `file` of `mib` MiB (psync, buffered). */
export function fio (file: string, mib: number, mode: FioMode, runtimeSec: number): number {
  const args = [
    '--name=palm-bench', `--filename=${file}`, `--size=${mib}M`, '--bs=4k', '--ioengine=psync',
    `--rw=${mode === 'randread' ? 'randread' : 'randwrite'}`, `--runtime=${runtimeSec}`, '--time_based',
    '--invalidate=1', '--output-format=json', ...(mode === 'randwrite-fdatasync' ? ['--fdatasync=1'] : [])
  ]
  const r = spawnSync('fio', args, { encoding: 'utf8', maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`fio ${args.join(' ')} failed: ${r.error?.message ?? r.stderr}`)
  return parseFioIops(r.stdout, mode === 'randread' ? 'read' : 'write')
}

/** Files per second writing each buffer as `dir/f<i>` (write + close, one after another). */
export const createFiles = async (dir: string, data: Buffer[]): Promise<number> =>
  data.length / await seconds(() => { data.forEach((d, i) => { writeFileSync(join(dir, `f${i}`), d) }) })

export const statFiles = async (dir: string, count: number): Promise<number> =>
  count / await seconds(() => { for (let i = 0; i < count; i++) statSync(join(dir, `f${i}`)) })

export const readFiles = async (dir: string, count: number): Promise<number> =>
  count / await seconds(() => { for (let i = 0; i < count; i++) readFileSync(join(dir, `f${i}`)) })

export interface SourceTree { dir: string, tarball: string, files: number, bytes: number }

/**
 * A source tree of about `files` regular files copied from `from` (this checkout's node_modules:
 * real package sources, offline), in sorted order with their directories, into `to`/tree, and the
 * same tree as an uncompressed tarball `to`/tree.tar.
 */
export function makeSourceTree (from: string, to: string, files: number): SourceTree {
  const base = realpathSync(from)
  const picked: string[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (picked.length >= files) return
      const p = join(dir, name)
      const st = lstatSync(p)
      if (st.isDirectory()) walk(p)
      else if (st.isFile()) picked.push(p)
    }
  }
  walk(base)
  if (picked.length < files) throw new Error(`${base} has only ${picked.length} files; the benchmark needs ${files}`)
  const dir = join(to, 'tree')
  let bytes = 0
  for (const p of picked) {
    const dest = join(dir, relative(base, p))
    mkdirSync(dirname(dest), { recursive: true })
    copyFileSync(p, dest)
    bytes += statSync(dest).size
  }
  const tarball = join(to, 'tree.tar')
  timeProcess('tar', ['cf', tarball, '-C', dir, '.'])
  return { dir, tarball, files: picked.length, bytes }
}

/** Seconds of `rsync -a` of the tree into `dest`. */
export const rsyncTree = (tree: SourceTree, dest: string): number => timeProcess('rsync', ['-a', `${tree.dir}/`, `${dest}/`])

/** Seconds of `tar x` of the tree's tarball into `dest`. */
export function untarTree (tree: SourceTree, dest: string): number {
  mkdirSync(dest, { recursive: true })
  return timeProcess('tar', ['xf', tree.tarball, '-C', dest])
}

function exec (db: sqlite3.Database, sql: string): Promise<void> {
  return new Promise((resolve, reject) => { db.exec(sql, err => { err == null ? resolve() : reject(err) }) })
}

/**
 * Mean milliseconds per SQLite write transaction (one 200-byte row inserted) over `count`
 * transactions on a new database `file`, in `delete` (rollback journal) or `wal` mode, with
 * synchronous=FULL (SQLite's default: the journal and the database are fsynced at each commit).
 */
export async function sqliteTxnMs (file: string, mode: 'delete' | 'wal', count: number): Promise<number> {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const d: sqlite3.Database = new sqlite3.Database(file, err => { err == null ? resolve(d) : reject(err) })
  })
  try {
    await exec(db, `PRAGMA journal_mode=${mode}; PRAGMA synchronous=FULL; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)`)
    const s = await seconds(async () => {
      for (let i = 0; i < count; i++) await exec(db, 'BEGIN; INSERT INTO t (v) VALUES (randomblob(200)); COMMIT')
    })
    return s * 1000 / count
  } finally {
    await new Promise<void>(resolve => { db.close(() => { resolve() }) })
  }
}

/** p50 and p99 milliseconds of fsync() of a 4 KiB file, each after overwriting it with new bytes, `count` times. */
export function fsyncLatency (file: string, count: number): { p50: number, p99: number } {
  const buf = Buffer.alloc(4096)
  const fd = openSync(file, 'w')
  const ms: number[] = []
  try {
    writeSync(fd, randomFillSync(buf), 0, buf.length, 0)
    fsyncSync(fd)
    for (let i = 0; i < count; i++) {
      writeSync(fd, randomFillSync(buf), 0, buf.length, 0)
      const start = performance.now()
      fsyncSync(fd)
      ms.push(performance.now() - start)
    }
  } finally {
    closeSync(fd)
  }
  return { p50: percentile(ms, 50), p99: percentile(ms, 99) }
}
