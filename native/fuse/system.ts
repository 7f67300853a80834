/**
 * Is this machine ready for PALM's FUSE mount? Checks fixed system paths only (never a mount), so it
 * is synchronous, fast, and works without the addon loaded. Each problem names what to install.
 */
import { accessSync, constants, existsSync } from 'node:fs'
import { join } from 'node:path'
import { addonCandidates } from './load.js'

/** What `checkFuseSystem` found: `ok` when `problems` is empty. */
export interface FuseSystemCheck {
  ok: boolean
  problems: string[]
}

const LIB_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/lib64', '/usr/lib', '/lib', '/usr/local/lib']

const BIN_DIRS = ['/usr/local/bin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/sbin', '/sbin']

/** Finds an executable in the system's bin directories (where Debian installs fusermount3). */
export function findExecutable (name: string, dirs: string[] = BIN_DIRS): string | undefined {
  for (const dir of dirs) {
    const p = join(dir, name)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {}
  }
  return undefined
}

function usable (path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK)
    return true
  } catch {
    return false
  }
}

/**
 * Checks the libfuse3 runtime library, fusermount3, /dev/fuse and the built addon.
 * `addonPaths` is for tests (default: where `loadFuseAddon` looks).
 */
export function checkFuseSystem (addonPaths: string[] = addonCandidates()): FuseSystemCheck {
  const problems: string[] = []
  if (!existsSync('/dev/fuse')) {
    problems.push('/dev/fuse is missing: load the kernel module (modprobe fuse), or give the container the device (--device /dev/fuse)')
  } else if (!usable('/dev/fuse')) {
    problems.push('/dev/fuse is not readable and writable by this user: check its permissions (crw-rw-rw- is usual)')
  }
  if (findExecutable('fusermount3') == null) {
    problems.push('fusermount3 is not installed: apt-get install fuse3')
  }
  if (!LIB_DIRS.some(d => existsSync(join(d, 'libfuse3.so.3')))) {
    problems.push('the libfuse3 runtime (libfuse3.so.3) is missing: apt-get install fuse3 (it pulls in libfuse3-3)')
  }
  if (!addonPaths.some(p => existsSync(p))) {
    problems.push('PALM\'s FUSE addon is not built: apt-get install libfuse3-dev, then run `npm rebuild` or `npm ci`')
  }
  return { ok: problems.length === 0, problems }
}
