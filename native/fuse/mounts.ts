/**
 * Mount table helpers used by `palm mount/unmount` and mount-scripts/: find a mount, tell whether
 * a FUSE mount is stale, recover it, unmount a path. None of them loads the addon, and none of them
 * touches a possibly hung mount from this process: they read /proc/self/mountinfo, write to
 * /sys/fs/fuse/connections, and leave every syscall on the mount itself to a child process with a
 * deadline (a child stuck in a FUSE wait dies with SIGKILL).
 */
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { BusyError, TimeoutError } from '../../src/errors.js'
import { throwIfAborted, type AbortOptions } from '../../src/util/abort.js'

/** One line of /proc/self/mountinfo. */
export interface MountEntry {
  id: number
  parentId: number
  major: number
  /** For FUSE mounts, the connection number under /sys/fs/fuse/connections. */
  minor: number
  root: string
  mountPoint: string
  options: string
  fsType: string
  source: string
  superOptions: string
}

const FUSECTL = '/sys/fs/fuse/connections'

/** Undoes the octal escapes (\040 for space, …) the kernel uses in mountinfo. */
function unescape (s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)))
}

/** Parses the text of /proc/<pid>/mountinfo. Malformed lines are skipped. */
export function parseMountinfo (text: string): MountEntry[] {
  const out: MountEntry[] = []
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ')
    if (sep < 0) continue
    const a = line.slice(0, sep).split(' ')
    const b = line.slice(sep + 3).split(' ')
    if (a.length < 6 || b.length < 3) continue
    const [major, minor] = a[2].split(':').map(Number)
    out.push({
      id: Number(a[0]),
      parentId: Number(a[1]),
      major,
      minor,
      root: unescape(a[3]),
      mountPoint: unescape(a[4]),
      options: a[5],
      fsType: b[0],
      source: unescape(b[1]),
      superOptions: b[2]
    })
  }
  return out
}

/** The mount table of this process's mount namespace. */
export async function readMounts (): Promise<MountEntry[]> {
  return parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'))
}

/** The topmost mount whose mount point is exactly `path` (resolved), if any. */
export async function findMount (path: string): Promise<MountEntry | undefined> {
  const abs = resolve(path)
  const mounts = await readMounts()
  for (let i = mounts.length - 1; i >= 0; i--) {
    if (mounts[i].mountPoint === abs) return mounts[i]
  }
  return undefined
}

function isFuse (m: MountEntry | undefined): boolean {
  return m != null && (m.fsType === 'fuse' || m.fsType.startsWith('fuse.') || m.fsType === 'fuseblk')
}

interface RunResult { code: number | null, stdout: string, stderr: string, timedOut: boolean }

/** Runs a helper with a deadline; never rejects (the result says what happened). */
async function run (file: string, args: string[], timeoutMs: number, options: AbortOptions = {}): Promise<RunResult> {
  return await new Promise(resolve => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', signal: options.signal, encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { killed?: boolean, code?: unknown }) | null
      const code = e == null ? 0 : typeof e.code === 'number' ? e.code : null
      resolve({ code, stdout: String(stdout), stderr: String(stderr ?? e?.message ?? ''), timedOut: e?.killed === true })
    })
  })
}

/**
 * True when `path` is a FUSE mount that does not answer: its server is gone (ENOTCONN) or does not
 * answer a lookup (of a name that does not exist, so no cache can answer for it) within
 * `timeoutMs` (default 2000 ms). False for a healthy mount or no mount.
 */
export async function isStaleMount (path: string, options: { timeoutMs?: number } & AbortOptions = {}): Promise<boolean> {
  const m = await findMount(path)
  if (m == null || !isFuse(m)) return false
  // A name that does not exist: the kernel cannot answer its lookup from cache, the server must.
  const probe = `${m.mountPoint}/.palm-stale-probe-${process.pid}`
  const r = await run('stat', ['-c', '%d', '--', probe], options.timeoutMs ?? 2000, options)
  throwIfAborted(options.signal, `checking ${m.mountPoint}`)
  if (r.timedOut) return true
  return r.code !== 0 && /not connected|ENOTCONN/i.test(r.stderr)
}

/** Makes sure the fusectl file system is mounted (systemd does this at boot; containers may not). */
async function ensureFusectl (): Promise<void> {
  if ((await readMounts()).some(m => m.fsType === 'fusectl')) return
  if (process.getuid?.() !== 0) return
  await run('mount', ['-t', 'fusectl', 'fusectl', FUSECTL], 5000)
}

/** Aborts the kernel side of a FUSE connection: every waiter gets ENOTCONN, nothing hangs any more. */
async function abortConnection (m: MountEntry): Promise<boolean> {
  await ensureFusectl()
  try {
    await writeFile(`${FUSECTL}/${m.minor}/abort`, '1')
    return true
  } catch {
    return false
  }
}

/** Detaches `path` lazily: fusermount3 -u -z (any user), then umount -l (root). */
async function lazyUnmount (path: string, options: AbortOptions): Promise<RunResult> {
  let r = await run('fusermount3', ['-u', '-z', '--', path], 10_000, options)
  if (r.code !== 0 && process.getuid?.() === 0) r = await run('umount', ['-l', '--', path], 10_000, options)
  return r
}

/**
 * Recovers a stale FUSE mount at `path`: aborts its connection through
 * /sys/fs/fuse/connections/N/abort (N = the mount's device minor), then unmounts it lazily.
 * Repeats for FUSE mounts stacked on the same path. Resolves when no FUSE mount is left there;
 * throws BusyError (naming the path and what to try) if one is.
 */
export async function recoverStaleMount (path: string, options: AbortOptions = {}): Promise<void> {
  const abs = resolve(path)
  let last: RunResult | undefined
  for (let round = 0; round < 8; round++) {
    throwIfAborted(options.signal, `recovering ${abs}`)
    const m = await findMount(abs)
    if (m == null || !isFuse(m)) return
    await abortConnection(m)
    last = await lazyUnmount(abs, options)
    const after = await findMount(abs)
    if (after != null && after.id === m.id) break
  }
  if (!isFuse(await findMount(abs))) return
  throw new BusyError(`could not unmount the stale FUSE mount at ${abs} (${last?.stderr.trim() ?? 'no detail'}): run \`fusermount3 -uz ${abs}\` or, as root, \`umount -l ${abs}\``, {
    details: { path: abs }
  })
}

/**
 * Unmounts the FUSE mount at `path`; a no-op when nothing is mounted there. Tries a plain
 * `fusermount3 -u` first, then a lazy unmount (busy mount), then abort + lazy unmount (hung
 * server). `timeoutMs` (default 5000 ms) bounds the plain attempt.
 */
export async function unmountPath (path: string, options: { timeoutMs?: number } & AbortOptions = {}): Promise<void> {
  const abs = resolve(path)
  const m = await findMount(abs)
  if (m == null) return
  if (!isFuse(m)) throw new BusyError(`${abs} is a ${m.fsType} mount, not FUSE: unmount it with umount`, { details: { path: abs } })
  await run('fusermount3', ['-u', '--', abs], options.timeoutMs ?? 5000, options)
  throwIfAborted(options.signal, `unmounting ${abs}`)
  if ((await findMount(abs))?.id !== m.id) return
  const lazy = await lazyUnmount(abs, options)
  if ((await findMount(abs))?.id !== m.id) return
  if (lazy.timedOut) throw new TimeoutError(`unmounting ${abs} timed out`, { details: { path: abs } })
  await recoverStaleMount(abs, options)
}

/** True when this process may pass allow_other: root, or user_allow_other in /etc/fuse.conf. */
export async function allowOtherPermitted (): Promise<boolean> {
  if (process.getuid?.() === 0) return true
  try {
    return /^\s*user_allow_other\s*$/m.test(await readFile('/etc/fuse.conf', 'utf8'))
  } catch {
    return false
  }
}
