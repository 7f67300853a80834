/**
 * A GlusterFS 4+2 dispersed volume over six bricks on loopback, for the side-by-side benchmark
 * (facts in /work/shared/notes/gluster-anchor.md): glusterd started here when it is not running
 * (no systemd), bricks at 127.0.0.2 (the CLI refuses 127.0.0.1 and localhost) in directories on
 * the same disk as PALM's homes, `force` because they share one server and the root filesystem,
 * every volume option at its default, mounted with the FUSE client. Everything it makes is
 * registered on the scope as it is made: unmount, volume stop + delete, glusterd stopped if this
 * process started it (and the gluster processes that appeared with it), bricks removed.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { isMountpoint } from '../../src/daemon/mountinfo.js'
import { recoverStaleMount } from '../../native/fuse/index.js'
import type { Scope } from './pool.js'

const HOST = '127.0.0.2'
const PID_FILE = '/run/glusterd.pid'
const VOLUME_PREFIX = 'palmbench'

export interface GlusterVolume {
  name: string
  mnt: string
  /** Unmounts and mounts the volume again: the FUSE client's caches (io-cache, read-ahead) start empty. */
  remount: () => Promise<void>
  /** PIDs of every gluster process (glusterd, the six glusterfsd, glustershd, the FUSE client). */
  pids: () => number[]
}

function run (args: string[], what = `gluster ${args.join(' ')}`): string {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8', timeout: 120_000 })
  if (r.status !== 0) throw new Error(`${what} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim()}`)
  return r.stdout
}

const gluster = (...args: string[]): string => run(['gluster', '--mode=script', ...args])

const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true } catch { return false } }

/** PIDs of the processes named glusterd, glusterfsd or glusterfs. */
function glusterPids (): number[] {
  const pids: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const comm = readFileSync(`/proc/${name}/comm`, 'utf8').trim()
      if (comm === 'glusterd' || comm === 'glusterfsd' || comm === 'glusterfs') pids.push(Number(name))
    } catch {}
  }
  return pids
}

async function waitUntil (what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!await ok()) {
    if (Date.now() > until) throw new Error(`${what} within ${timeoutMs / 1000} s`)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

async function killAndWait (pid: number): Promise<void> {
  if (!alive(pid)) return
  process.kill(pid, 'SIGTERM')
  const until = Date.now() + 10_000
  while (alive(pid) && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 100))
  if (alive(pid)) process.kill(pid, 'SIGKILL')
}

async function unmount (mnt: string): Promise<void> {
  if (!await isMountpoint(mnt)) return
  // A hung client: abort its FUSE connection, then a lazy unmount.
  if (spawnSync('umount', [mnt], { timeout: 30_000 }).status !== 0) await recoverStaleMount(mnt)
}

/** Volumes an earlier run left behind (its PID in the name is gone): stopped and deleted. */
function removeLeftoverVolumes (): void {
  const names = gluster('volume', 'list').split('\n').map(l => l.trim()).filter(n => n.startsWith(`${VOLUME_PREFIX}-`))
  for (const name of names) {
    const pid = Number(name.split('-')[1])
    if (Number.isInteger(pid) && alive(pid)) continue
    console.log(`removing the GlusterFS volume ${name} an earlier benchmark left`)
    spawnSync('gluster', ['--mode=script', 'volume', 'stop', name, 'force'])
    spawnSync('gluster', ['--mode=script', 'volume', 'delete', name])
  }
}

/** Starts glusterd if needed, creates, starts and mounts the 4+2 volume under `root`. */
export async function startGlusterVolume (scope: Scope, root: string): Promise<GlusterVolume> {
  if (!glusterPids().some(pid => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'glusterd')) {
    const before = new Set(glusterPids())
    run(['glusterd', '-p', PID_FILE], 'starting glusterd')
    scope.after(async () => {
      const pid = existsSync(PID_FILE) ? Number(readFileSync(PID_FILE, 'utf8').trim()) : NaN
      if (Number.isInteger(pid)) await killAndWait(pid)
      // glustershd and any brick process that outlived `volume stop` came with this glusterd.
      for (const p of glusterPids().filter(p => !before.has(p))) await killAndWait(p)
    })
  }
  await waitUntil('glusterd did not answer `gluster pool list`', () => spawnSync('gluster', ['--mode=script', 'pool', 'list']).status === 0, 60_000)
  removeLeftoverVolumes()
  const name = `${VOLUME_PREFIX}-${process.pid}-${Date.now().toString(36)}`
  const bricks = [1, 2, 3, 4, 5, 6].map(i => join(root, 'gluster-bricks', `b${i}`))
  for (const b of bricks) mkdirSync(b, { recursive: true })
  scope.after(() => { rmSync(join(root, 'gluster-bricks'), { recursive: true, force: true }) })
  gluster('volume', 'create', name, 'disperse', '6', 'redundancy', '2', 'transport', 'tcp', ...bricks.map(b => `${HOST}:${b}`), 'force')
  scope.after(() => { gluster('volume', 'delete', name) })
  gluster('volume', 'start', name)
  scope.after(() => { gluster('volume', 'stop', name, 'force') })
  const mnt = join(root, 'gluster-mnt')
  mkdirSync(mnt, { recursive: true })
  const mount = async (): Promise<void> => {
    run(['mount', '-t', 'glusterfs', `${HOST}:/${name}`, mnt], `mount -t glusterfs ${HOST}:/${name} ${mnt}`)
    await waitUntil(`${mnt} was not mounted`, async () => await isMountpoint(mnt), 30_000)
  }
  await mount()
  scope.after(async () => { await unmount(mnt) })
  return {
    name,
    mnt,
    remount: async () => { await unmount(mnt); await mount() },
    pids: glusterPids
  }
}
