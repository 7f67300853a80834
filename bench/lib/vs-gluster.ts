/**
 * `npm run bench -- pool --vs gluster` (root): the same workload, in the same run, one metric at a
 * time on each of
 *   - pool:    PALM's six devices in network namespaces at 4-of-6, mounted on one (bench/lib/pool.ts)
 *   - gluster: a GlusterFS 4+2 dispersed volume over six bricks on loopback (bench/lib/gluster.ts)
 *   - single:  one PALM device alone (`palm mount`, same settings)
 *   - bindfs:  a bindfs passthrough of a directory on the same disk (the FUSE ceiling)
 * Workload (bench/lib/workload.ts), in this order: dd conv=fsync of 512 MiB and a cold read of it;
 * fio 4 KiB random read (cold), random write, random write with fdatasync after each; 200 SQLite
 * transactions in rollback-journal and in WAL mode; fsync latency of a 4 KiB file (p50, p99); tar x
 * and rsync -a of a ~3,000-file tree from node_modules; 5,000 × 4 KiB create, stat and read (cold).
 * The slowest steps on a loaded machine come last: the JSON is rewritten after every metric, so an
 * interrupted run keeps what it measured ("complete": false).
 * "Cold": PALM's mount daemons restarted (empty stripe cache), the GlusterFS client remounted,
 * then the kernel's page, dentry and inode caches dropped before each side's run.
 * Writes bench/results/pool-vs-gluster.json (pool-vs-gluster-quick.json with --quick) and prints a table; tears everything down at the end,
 * on failure and on Ctrl-C. `--quick`: 64 MiB, 500 files, 50 transactions, 5 s fio runs.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isMountpoint } from '../../src/daemon/mountinfo.js'
import { formatComparison, shapeComparison, SIDES, type ComparedMetric, type Side } from './compare.js'
import { startGlusterVolume } from './gluster.js'
import { dropCaches, randomBuffers, writeResults, writeRandomFile } from './measure.js'
import { requireTools, serveBindfs, servePalm, type Served } from './mounts.js'
import { phaseLine, Scope, startPool } from './pool.js'
import { cpuSeconds, createFiles, fio, fsyncLatency, makeSourceTree, readFiles, rsyncTree, seqRead, seqWrite, sqliteTxnMs, statFiles, untarTree, type FioMode, type SourceTree } from './workload.js'

const QUICK = process.argv.includes('--quick')
const SEQ_MIB = QUICK ? 64 : 512
const FIO_MIB = QUICK ? 32 : 256
const FIO_SEC = QUICK ? 5 : 20
const FILES = QUICK ? 500 : 5000
const TREE_FILES = QUICK ? 500 : 3000
const TXNS = QUICK ? 50 : 200
const FSYNCS = QUICK ? 50 : 300
const FILE_BYTES = 4096
const NODE_MODULES = fileURLToPath(new URL('../../../node_modules/', import.meta.url))

interface Target {
  side: Side
  dir: string
  /** Empties the file system's own caches (restart or remount); the caller drops the kernel's. */
  cold: () => Promise<void>
  /** The processes that serve it, for their CPU time. */
  pids: () => number[]
}

export async function compareWithGluster (): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('bench pool --vs gluster must run as root: it installs packages, starts glusterd, mounts GlusterFS and bindfs, makes network namespaces and drops the page cache')
    process.exit(1)
  }
  requireTools([['glusterd', 'glusterfs-server'], ['mount.glusterfs', 'glusterfs-client'], ['fio', 'fio'], ['bindfs', 'bindfs'], ['rsync', 'rsync'], ['tar', 'tar'], ['nsenter', 'util-linux']])
  const loadAtStart = loadavg()
  const root = mkdtempSync(join(tmpdir(), 'palm-bench-vs-'))
  const shm = mkdtempSync('/dev/shm/palm-bench-vs-')
  const scope = new Scope()
  scope.after(() => { rmSync(root, { recursive: true, force: true }); rmSync(shm, { recursive: true, force: true }) })
  let closing: Promise<void> | undefined
  const teardown = async (): Promise<void> => { closing ??= scope.close(); await closing }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: tearing down (GlusterFS volume, glusterd, mounts, namespaces, devices)…`)
      void teardown().finally(() => process.exit(130))
    })
  }

  const metrics = new Map<string, ComparedMetric>()
  const errors: string[] = []
  const phases: string[] = []
  let tree: SourceTree | undefined
  let finished = false
  /** Writes what is measured so far (after every metric, so an interrupted run keeps its figures; `complete` says whether it ran to the end). */
  const save = (complete: boolean): void => {
    writeResults(QUICK ? 'pool-vs-gluster-quick' : 'pool-vs-gluster', {
      complete,
      loadavgAtStart: loadAtStart,
      quick: QUICK,
      seqMiB: SEQ_MIB,
      fio: { fileMiB: FIO_MIB, runtimeSec: FIO_SEC, bs: '4k', ioengine: 'psync', buffered: true },
      files: FILES,
      fileBytes: FILE_BYTES,
      tree: tree == null ? null : { files: tree.files, bytes: tree.bytes, from: 'node_modules of this checkout (sorted, first files)' },
      sqliteTxns: TXNS,
      fsyncs: FSYNCS,
      sides: {
        pool: 'PALM, 6 devices in network namespaces (one mount, five serve), policy 4-of-6, 4 MiB stripes, durability all',
        gluster: 'GlusterFS 10.3 dispersed 4+2, 6 bricks at 127.0.0.2 on the same disk, volume options at their defaults, FUSE client',
        single: 'PALM, one device alone (same settings): all 6 fragments local',
        bindfs: 'bindfs -o big_writes over a directory on the same disk'
      },
      ratios: 'poolVsGluster and singleVsBindfs are speed ratios: > 1 means PALM is faster (for s and ms: the other side ÷ PALM)',
      errors,
      phases,
      ...shapeComparison([...metrics.values()])
    }, { quiet: !complete })
  }
  try {
    const seqSrc = join(shm, 'seq.bin')
    writeRandomFile(seqSrc, SEQ_MIB)
    const smallData = randomBuffers(FILES, FILE_BYTES)
    tree = makeSourceTree(NODE_MODULES, shm, TREE_FILES)
    console.log(`source tree: ${tree.files} files, ${(tree.bytes / 1e6).toFixed(1)} MB`)

    const { pool, namespaces } = await startPool(scope, root, { durability: 'all' })
    if (!namespaces) throw new Error('the pool needs network namespaces here (root, ip, nsenter)')
    const volume = await startGlusterVolume(scope, root)
    const singleHome = join(root, 'single')
    const singleMnt = join(root, 'single-mnt')
    let single: Served = await servePalm(singleHome, singleMnt, { init: [] })
    scope.after(async () => { await single.stop() })
    const bindSrc = join(root, 'bindfs-src')
    mkdirSync(bindSrc)
    const bindfs = await serveBindfs(bindSrc, join(root, 'bindfs-mnt'))
    scope.after(async () => { await bindfs.stop() })

    let phaseName = ''
    const targets: Target[] = [
      { side: 'pool', dir: pool.mnt, cold: async () => { phases.push(phaseLine(phaseName, await pool.restartMount(5))) }, pids: () => pool.pids() },
      { side: 'gluster', dir: volume.mnt, cold: volume.remount, pids: volume.pids },
      {
        side: 'single',
        dir: singleMnt,
        cold: async () => { await single.stop(); single = await servePalm(singleHome, singleMnt) },
        pids: () => [single.child.pid ?? -1]
      },
      { side: 'bindfs', dir: bindfs.dir, cold: async () => {}, pids: () => [bindfs.child.pid ?? -1] }
    ]
    const coldAll = async (before: string): Promise<void> => {
      phaseName = before
      for (const t of targets) await t.cold()
    }
    /** Runs `fn` on every side in turn and records what it returns under `key`; a side that fails is reported and left out. */
    const each = async (key: string, unit: string, fn: (t: Target) => number | Promise<number>, opts: { lowerIsBetter?: boolean, cold?: boolean } = {}): Promise<void> => {
      const m = metrics.get(key) ?? { key, unit, lowerIsBetter: opts.lowerIsBetter, values: {} }
      metrics.set(key, m)
      for (const t of targets) {
        // Interrupted: the teardown has begun, so measuring on would record half-removed mounts.
        if (closing != null) throw new Error('interrupted')
        if (opts.cold === true) dropCaches()
        try {
          // A daemon that died leaves a plain directory: measuring it would record the local disk.
          if (!await isMountpoint(t.dir)) throw new Error(`${t.dir} is no longer mounted`)
          m.values[t.side] = await fn(t)
        } catch (err) {
          errors.push(`${key} on ${t.side}: ${(err as Error).message.split('\n')[0]}`)
          console.error(`${key} on ${t.side} failed:`, err)
        }
      }
      console.log(`${key.padEnd(18)} ${SIDES.map(s => `${s} ${m.values[s]?.toFixed(2) ?? '-'}`).join(', ')} ${unit}  (load ${loadavg()[0].toFixed(1)})`)
      save(false)
    }
    const rm = (t: Target, name: string): void => { rmSync(join(t.dir, name), { recursive: true, force: true }) }

    const cpu = new Map<Side, number>()
    await each('seqWriteMBps', 'MB/s', t => {
      const c0 = cpuSeconds(t.pids())
      const v = seqWrite(seqSrc, join(t.dir, 'seq'), SEQ_MIB)
      cpu.set(t.side, cpuSeconds(t.pids()) - c0)
      return v
    })
    await each('seqWriteCpuSec', 's', t => cpu.get(t.side) ?? NaN, { lowerIsBetter: true })
    await coldAll('seq write')
    await each('seqReadMBps', 'MB/s', t => seqRead(join(t.dir, 'seq'), SEQ_MIB), { cold: true })
    for (const t of targets) rm(t, 'seq')

    for (const t of targets) seqWrite(seqSrc, join(t.dir, 'fio.dat'), FIO_MIB)
    await coldAll('seq read + fio layout')
    const fioRuns: Array<[string, FioMode]> = [['randReadIops', 'randread'], ['randWriteIops', 'randwrite'], ['randWriteSyncIops', 'randwrite-fdatasync']]
    for (const [key, mode] of fioRuns) await each(key, 'IOPS', t => fio(join(t.dir, 'fio.dat'), FIO_MIB, mode, FIO_SEC), { cold: mode === 'randread' })
    for (const t of targets) rm(t, 'fio.dat')

    await each('sqliteTxnMs', 'ms', async t => await sqliteTxnMs(join(t.dir, 'rollback.db'), 'delete', TXNS), { lowerIsBetter: true })
    await each('sqliteWalTxnMs', 'ms', async t => await sqliteTxnMs(join(t.dir, 'wal.db'), 'wal', TXNS), { lowerIsBetter: true })
    const p99 = new Map<Side, number>()
    await each('fsyncP50Ms', 'ms', t => {
      const r = fsyncLatency(join(t.dir, 'fsync.bin'), FSYNCS)
      p99.set(t.side, r.p99)
      return r.p50
    }, { lowerIsBetter: true })
    await each('fsyncP99Ms', 'ms', t => p99.get(t.side) ?? NaN, { lowerIsBetter: true })
    const source = tree
    await each('rsyncSec', 's', t => rsyncTree(source, join(t.dir, 'rsync')), { lowerIsBetter: true })
    await each('tarSec', 's', t => untarTree(source, join(t.dir, 'tar')), { lowerIsBetter: true })
    for (const t of targets) { rm(t, 'rsync'); rm(t, 'tar') }

    for (const t of targets) mkdirSync(join(t.dir, 'small'))
    await each('createPerSec', 'files/s', async t => await createFiles(join(t.dir, 'small'), smallData))
    await coldAll('small create')
    await each('statPerSec', 'files/s', async t => await statFiles(join(t.dir, 'small'), FILES), { cold: true })
    await coldAll('small stat')
    await each('readSmallPerSec', 'files/s', async t => await readFiles(join(t.dir, 'small'), FILES), { cold: true })
    for (const t of targets) rm(t, 'small')

    await coldAll('small read')
    finished = true
  } catch (err) {
    console.error('the benchmark failed:', err)
    errors.push(`setup or teardown of a phase: ${(err as Error).message.split('\n')[0]}`)
  } finally {
    await teardown()
  }

  if (phases.length > 0) console.log(`\nmount daemon of the pool, per phase (ms summed over concurrent stripes):\n${phases.join('\n')}`)
  console.log(`\n${formatComparison(shapeComparison([...metrics.values()]))}`)
  save(finished)
  if (errors.length > 0) {
    console.error(`\n${errors.length} measurement(s) failed:\n${errors.join('\n')}`)
    process.exit(1)
  }
}
