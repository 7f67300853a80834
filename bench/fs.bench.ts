/**
 * File system benchmark: one workload through a PALM mount (one device, default 4-of-6, 4 MiB
 * stripes) and through a bindfs passthrough of a local directory on the same disk, in the same run,
 * interleaved round by round. bindfs (C on libfuse) is the ceiling for any FUSE file system here.
 *   - sequential write of 512 MiB (dd bs=1M from random data in /dev/shm; timed to dd's exit,
 *     so the close is included), then a cold read (page cache dropped; PALM restarted so its stripe
 *     cache is empty too)
 *   - 5,000 files of 4 KiB: create (write + close), stat all, read all (caches dropped before each),
 *     delete all
 *   - rsync -a of a source tree (this repository's node_modules)
 * `node bench/run.mjs fs [--quick]` → table + bench/results/fs.json ({ palm, bindfs, ratio } per metric).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { dropCaches, randomBuffers, reportPaired, seconds, timeProcess, writeRandomFile, type PairedMetric } from './lib/measure.js'
import { requireTools, serveBindfs, servePalm, type Served } from './lib/mounts.js'

const QUICK = process.argv.includes('--quick')
const ROUNDS = QUICK ? 1 : 3
const SEQ_MIB = QUICK ? 128 : 512
const FILES = QUICK ? 1000 : 5000
const FILE_BYTES = 4096
const TREE = fileURLToPath(new URL('../../node_modules/', import.meta.url))

async function main (): Promise<void> {
  requireTools([['bindfs', 'bindfs'], ['rsync', 'rsync']])
  const root = mkdtempSync(join(tmpdir(), 'palm-bench-fs-'))
  const shm = mkdtempSync('/dev/shm/palm-bench-fs-')
  const seqSrc = join(shm, 'seq.bin')
  writeRandomFile(seqSrc, SEQ_MIB)
  const smallData = randomBuffers(FILES, FILE_BYTES)

  const home = join(root, 'home')
  const palmDir = join(root, 'palm')
  const bindSrc = join(root, 'bindfs-src')
  mkdirSync(bindSrc)
  let palm: Served | undefined
  let bindfs: Served | undefined
  const m: Record<string, PairedMetric> = {}
  const metric = (key: string, unit: string, lowerIsBetter = false): PairedMetric => (m[key] ??= { key, unit, a: [], b: [], lowerIsBetter })
  let cold = true
  try {
    palm = await servePalm(home, palmDir, { init: [] })
    bindfs = await serveBindfs(bindSrc, join(root, 'bindfs'))
    for (let n = 0; n < ROUNDS; n++) {
      const order: Array<['a' | 'b', () => Served]> = n % 2 === 0 ? [['a', () => palm as Served], ['b', () => bindfs as Served]] : [['b', () => bindfs as Served], ['a', () => palm as Served]]
      for (const [side, t] of order) {
        const file = join(t().dir, `seq-${n}`)
        metric('seqWriteMBps', 'MB/s')[side].push(SEQ_MIB * 1.048576 / timeProcess('dd', [`if=${seqSrc}`, `of=${file}`, 'bs=1M']))
      }
      // Cold read: no page cache, and a PALM daemon with an empty stripe cache.
      await palm.stop()
      palm = await servePalm(home, palmDir)
      cold = dropCaches() && cold
      for (const [side, t] of order) {
        const file = join(t().dir, `seq-${n}`)
        dropCaches()
        metric('seqReadMBps', 'MB/s')[side].push(SEQ_MIB * 1.048576 / timeProcess('dd', [`if=${file}`, 'of=/dev/null', 'bs=1M']))
        rmSync(file)
      }
      for (const [side, t] of order) {
        const dir = join(t().dir, `small-${n}`)
        mkdirSync(dir)
        const f = (i: number): string => join(dir, `f${i}`)
        metric('createPerSec', 'files/s')[side].push(FILES / await seconds(() => { for (let i = 0; i < FILES; i++) writeFileSync(f(i), smallData[i]) }))
        dropCaches()
        metric('statPerSec', 'files/s')[side].push(FILES / await seconds(() => { for (let i = 0; i < FILES; i++) statSync(f(i)) }))
        dropCaches()
        metric('readSmallPerSec', 'files/s')[side].push(FILES / await seconds(() => { for (let i = 0; i < FILES; i++) readFileSync(f(i)) }))
        metric('deletePerSec', 'files/s')[side].push(FILES / await seconds(() => { for (let i = 0; i < FILES; i++) unlinkSync(f(i)) }))
        rmSync(dir, { recursive: true })
      }
      for (const [side, t] of order) {
        const dest = join(t().dir, `rsync-${n}`)
        metric('rsyncSec', 's', true)[side].push(timeProcess('rsync', ['-a', TREE, dest]))
        rmSync(dest, { recursive: true })
      }
      console.log(`round ${n + 1}/${ROUNDS} done`)
    }
  } finally {
    await palm?.stop()
    await bindfs?.stop()
    rmSync(root, { recursive: true, force: true })
    rmSync(shm, { recursive: true, force: true })
  }
  reportPaired('fs', ['palm', 'bindfs'], Object.values(m), {
    rounds: ROUNDS,
    seqMiB: SEQ_MIB,
    files: FILES,
    fileBytes: FILE_BYTES,
    coldReads: cold,
    palm: 'one device, policy 4-of-6, 4 MiB stripes, default caches (256 MiB), default_permissions',
    bindfs: 'bindfs 1.14 (libfuse 2) -o big_writes over a directory on the same disk',
    targets: { seqWriteMBps: 0.4, seqReadMBps: 0.5, createPerSec: 0.5, statPerSec: 0.7 }
  })
}

await main()
