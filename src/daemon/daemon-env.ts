/**
 * The environment a daemon is started with. glibc reads GLIBC_TUNABLES once, before any code runs,
 * so what the daemon cannot set for itself (src/daemon/malloc.ts sets the rest at start) is set by
 * whoever starts it: `palm mount` (spawnDaemon), the systemd unit, the tests and the benchmarks.
 *
 * `glibc.malloc.hugetlb=1`: glibc asks for transparent huge pages (madvise) on the memory it takes
 * for the main thread's heap and for its own large mmaps. A daemon fills stripe-sized buffers at
 * hundreds of MB/s, and each 4 KiB page it touches for the first time is a page fault: ~58,000 per
 * 256 MiB written into the pool on the mount's main thread, ~7,500 on each serving device. With
 * huge pages that is ~450 and ~60, and the pool used ~22 % less CPU for the same write
 * (docs/performance.md, "Huge pages").
 */

/** What the daemon asks glibc for. */
export const DAEMON_TUNABLES = 'glibc.malloc.hugetlb=1'

/** `env` with the daemon's tunables added to any the user set (a setting of theirs for the same name wins). */
export function daemonEnv (env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const have = env.GLIBC_TUNABLES ?? ''
  const names = new Set(have.split(':').map(t => t.split('=')[0]))
  const add = DAEMON_TUNABLES.split(':').filter(t => !names.has(t.split('=')[0]))
  if (add.length === 0) return env
  return { ...env, GLIBC_TUNABLES: [have, ...add].filter(t => t !== '').join(':') }
}

/** True when this process was started with the daemon's tunables (or the user's own values for them). */
export function startedWithDaemonEnv (env: NodeJS.ProcessEnv = process.env): boolean {
  return daemonEnv(env) === env
}
