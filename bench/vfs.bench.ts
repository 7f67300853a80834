/**
 * VFS benchmark, in-process (no FUSE): what the VFS itself costs over a real SQLite journal file,
 * the chunk worker pool and the file fragment store in a temp dir, 1-of-1 by default.
 * - sequential write of a large file in 128 KiB writes (FUSE's request size), with the default
 *   dirty budget and with a budget far smaller than the file (the early-store spill path);
 * - the staging-file alternative's extra cost: writing the same bytes to a file in the home and
 *   reading them back (what spilling to staging adds before encoding can even start);
 * - sequential reads with a cache that holds the file: cold (fresh VFS, empty cache), then warm;
 * - 5,000 files of 4 KiB: create+write+close, lookup+getattr, open+read+close, unlink (per second).
 * `node bench/run.mjs vfs [--quick] [--policy=4-of-6]` → table + bench/results/vfs.json (vfs-4-of-6.json for
 * another policy). The machine is shared: noisy.
 */
import { randomBytes } from 'node:crypto'
import { constants as C, mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createChunkPool } from '../src/chunk/index.js'
import { createMetaStore } from '../src/meta/index.js'
import { ROOT_INO, type MetaStore } from '../src/meta/types.js'
import { createLocalStripeIO } from '../src/place/local.js'
import type { StripeIO } from '../src/place/types.js'
import { createFsStore } from '../src/store/index.js'
import { prefixLogger } from '../src/util/logger.js'
import { createVfs, formatPolicy, parsePolicy, type Vfs, type VfsInit } from '../src/vfs/index.js'

const MiB = 1024 * 1024
const QUICK = process.argv.includes('--quick')
const FILE_BYTES = (QUICK ? 128 : 512) * MiB
const SMALL_FILES = QUICK ? 1000 : 5000
const REQUEST = 128 * 1024
const ctx = { uid: 0, gid: 0, pid: process.pid, umask: 0o022 }
const POLICY_ARG = process.argv.find(a => a.startsWith('--policy='))?.slice('--policy='.length) ?? '1-of-1'
const POLICY = parsePolicy(POLICY_ARG, 'the --policy flag')
const mbps = (bytes: number, ms: number): number => Math.round(bytes / 1e6 / (ms / 1000))
const perSec = (n: number, ms: number): number => Math.round(n / (ms / 1000))
const logger = prefixLogger('bench')

interface Stack { meta: MetaStore, stripes: StripeIO, close: () => Promise<void> }

async function openStack (dir: string): Promise<Stack> {
  const meta = createMetaStore({ path: join(dir, 'journal.db'), deviceId: 'bench', logger })
  await meta.start()
  const pool = createChunkPool({ salt: randomBytes(32), logger })
  await pool.start()
  const store = createFsStore({ path: join(dir, 'fragments'), capacityBytes: 64 * 1024 * MiB })
  await store.start()
  const stripes = createLocalStripeIO({ policy: POLICY }, { pool, store, deviceId: 'bench', logger })
  return { meta, stripes, close: async () => { await store.stop(); await pool.stop(); await meta.stop() } }
}

async function withVfs<T> (stack: Stack, init: VfsInit, fn: (vfs: Vfs) => Promise<T>): Promise<T> {
  const vfs = createVfs({ defaultPolicy: POLICY, ...init }, { meta: stack.meta, stripes: stack.stripes, logger })
  await vfs.start()
  try { return await fn(vfs) } finally { await vfs.stop() }
}

/** Writes FILE_BYTES to `name`; returns MB/s (until close returned) and the peak dirty bytes. */
async function seqWrite (vfs: Vfs, name: string, source: Uint8Array): Promise<{ MBps: number, peakDirtyMiB: number }> {
  const start = performance.now()
  const c = await vfs.create(ctx, ROOT_INO, name, 0o644, C.O_WRONLY)
  let peak = 0
  for (let o = 0; o < FILE_BYTES; o += REQUEST) {
    const at = o % source.length
    await vfs.write(ctx, c.attr.ino, c.fh, o, source.subarray(at, at + REQUEST), 0)
    if ((o / REQUEST) % 64 === 0) peak = Math.max(peak, vfs.stats().dirtyBytes)
  }
  await vfs.flush(ctx, c.attr.ino, c.fh, 0n)
  await vfs.release(ctx, c.attr.ino, c.fh, 0)
  await vfs.forget(c.attr.ino, 1)
  return { MBps: mbps(FILE_BYTES, performance.now() - start), peakDirtyMiB: Math.round(peak / MiB) }
}

async function seqRead (vfs: Vfs, name: string): Promise<number> {
  const start = performance.now()
  const a = await vfs.lookup(ctx, ROOT_INO, name)
  const { fh } = await vfs.open(ctx, a.ino, C.O_RDONLY)
  let got = 0
  for (;;) {
    const b = await vfs.read(ctx, a.ino, fh, got, REQUEST)
    got += b.length
    if (b.length < REQUEST) break
  }
  await vfs.release(ctx, a.ino, fh, 0)
  await vfs.forget(a.ino, 1)
  if (got !== FILE_BYTES) throw new Error(`read ${got} of ${FILE_BYTES} bytes`)
  return mbps(got, performance.now() - start)
}

/** What a staging spill adds: the bytes written to a file in the home, fsync'd, and read back. */
async function stagingCost (dir: string, source: Uint8Array): Promise<{ writeMBps: number, readBackMBps: number }> {
  const path = join(dir, 'staging.bin')
  const fh = await open(path, 'w')
  let start = performance.now()
  for (let o = 0; o < FILE_BYTES; o += 4 * MiB) await fh.write(source, (o % source.length), Math.min(4 * MiB, source.length - (o % source.length)), o)
  await fh.sync()
  await fh.close()
  const writeMBps = mbps(FILE_BYTES, performance.now() - start)
  const rh = await open(path, 'r')
  const buf = Buffer.alloc(4 * MiB)
  start = performance.now()
  for (let o = 0; o < FILE_BYTES; o += buf.length) await rh.read(buf, 0, buf.length, o)
  await rh.close()
  await rm(path)
  return { writeMBps, readBackMBps: mbps(FILE_BYTES, performance.now() - start) }
}

async function smallFiles (vfs: Vfs): Promise<Record<string, number>> {
  const dir = await vfs.mkdir(ctx, ROOT_INO, 'small', 0o755)
  const data = randomBytes(4096)
  const names = Array.from({ length: SMALL_FILES }, (_, i) => `f${i}`)
  let start = performance.now()
  for (const name of names) {
    const c = await vfs.create(ctx, dir.ino, name, 0o644, C.O_WRONLY)
    await vfs.write(ctx, c.attr.ino, c.fh, 0, data, 0)
    await vfs.flush(ctx, c.attr.ino, c.fh, 0n)
    await vfs.release(ctx, c.attr.ino, c.fh, 0)
    await vfs.forget(c.attr.ino, 1)
  }
  const createPerSec = perSec(SMALL_FILES, performance.now() - start)
  start = performance.now()
  for (const name of names) {
    const a = await vfs.lookup(ctx, dir.ino, name)
    await vfs.getattr(ctx, a.ino, undefined)
    await vfs.forget(a.ino, 1)
  }
  const statPerSec = perSec(SMALL_FILES, performance.now() - start)
  start = performance.now()
  for (const name of names) {
    const a = await vfs.lookup(ctx, dir.ino, name)
    const { fh } = await vfs.open(ctx, a.ino, C.O_RDONLY)
    const b = await vfs.read(ctx, a.ino, fh, 0, REQUEST)
    if (b.length !== 4096) throw new Error(`short read of ${name}`)
    await vfs.release(ctx, a.ino, fh, 0)
    await vfs.forget(a.ino, 1)
  }
  const readSmallPerSec = perSec(SMALL_FILES, performance.now() - start)
  start = performance.now()
  for (const name of names) await vfs.unlink(ctx, dir.ino, name)
  const deletePerSec = perSec(SMALL_FILES, performance.now() - start)
  return { createPerSec, statPerSec, readSmallPerSec, deletePerSec }
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'palm-bench-vfs-'))
  const source = randomBytes(16 * MiB)
  const results: Record<string, unknown> = { fileMiB: FILE_BYTES / MiB, smallFiles: SMALL_FILES, stripeMiB: 4, policy: formatPolicy(POLICY) }
  try {
    const stack = await openStack(dir)
    try {
      results.seqWriteDefaultBudget = await withVfs(stack, {}, async (vfs) => await seqWrite(vfs, 'big', source))
      results.seqWriteSmallBudget = await withVfs(stack, { dirtyLimitBytes: 32 * MiB }, async (vfs) => await seqWrite(vfs, 'big2', source))
      results.staging = await stagingCost(dir, source)
      // A cache that holds the whole file: the first read starts empty, the second is all hits.
      const cacheLimitBytes = FILE_BYTES + 64 * MiB
      const reads = await withVfs(stack, { cacheLimitBytes }, async (vfs) => ({ coldMBps: await seqRead(vfs, 'big'), warmMBps: await seqRead(vfs, 'big') }))
      results.seqRead = { ...reads, cacheMiB: cacheLimitBytes / MiB }
      results.small = await withVfs(stack, {}, async (vfs) => await smallFiles(vfs))
    } finally {
      await stack.close()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  console.table(Object.entries(results).map(([k, v]) => ({ metric: k, value: typeof v === 'object' ? JSON.stringify(v) : v })))
  const out = fileURLToPath(new URL('../../bench/results/', import.meta.url))
  mkdirSync(out, { recursive: true })
  const file = POLICY.k === 1 && POLICY.n === 1 ? 'vfs.json' : `vfs-${formatPolicy(POLICY)}.json`
  writeFileSync(join(out, file), JSON.stringify({ date: new Date().toISOString(), quick: QUICK, ...results }, null, 2) + '\n')
}

await main()
