/**
 * Loads the compiled addon (native/fuse/build/Release/palm_fuse.node, built at `npm ci` by
 * native/fuse/build.mjs). When it is missing or cannot load its libfuse, the error names the
 * Debian package to install. Nothing else in native/fuse needs the addon.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { NotSupportedError } from '../../src/errors.js'
import type { FuseSessionStats } from './types.js'

/** One native session: the reply functions and shared arrays of native/fuse/src. */
export interface NativeSession {
  readonly inBuffer: ArrayBuffer
  readonly outBuffer: ArrayBuffer
  readonly forgetBuffer: ArrayBuffer
  readonly slots: number
  mount: (cb: (err: string | null) => void) => void
  unmount: (cb: (err: null) => void) => void
  replyErr: (slot: number, errno: number, data?: Uint8Array) => boolean
  replyEntry: (slot: number) => boolean
  replyCreate: (slot: number) => boolean
  replyAttr: (slot: number) => boolean
  replyOpen: (slot: number) => boolean
  replyBuf: (slot: number, data: Uint8Array) => boolean
  replyReadlink: (slot: number, target: string) => boolean
  replyWrite: (slot: number, written: number, data: Uint8Array) => boolean
  replyStatfs: (slot: number) => boolean
  replyReaddir: (slot: number, count: number, nums: Float64Array, names: string) => number
  notifyInvalInode: (ino: number, offset: number, length: number) => boolean
  notifyInvalEntry: (parent: number, name: string) => boolean
  stats: () => NativeStats
}

/** Counters kept by the addon (documented on FuseSessionStats). */
export type NativeStats = FuseSessionStats

export interface NativeConfig {
  maxWrite: number
  threads: number
  slots: number
  maxBuffers: number
  readdirplus: 0 | 1 | 2
  writeback: 0 | 1
  securityCapability: 0 | 1
  /** Bit (1 << op code) set for each optional op the file system implements. */
  implemented: number
  debug: 0 | 1
  blksize: number
  timeoutMs: number
}

export interface FuseAddon {
  createSession: (
    mountpoint: string,
    args: string[],
    config: NativeConfig,
    dispatch: (slot: number, op: number, s1: string | undefined, s2: string | undefined, extra: unknown) => void,
    forget: (count: number) => void,
    event: (kind: number, a: number, b: number) => void
  ) => NativeSession
  opCodes: () => Record<string, number>
  libfuseVersion: () => string
  /** glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD for the process; false where they cannot be set. */
  tuneMalloc: (mmapThreshold: number, trimThreshold: number) => boolean
}

const INSTALL_HINT = 'install the Debian packages fuse3 and libfuse3-dev (apt-get install fuse3 libfuse3-dev), then run `npm rebuild` or `npm ci`'

/** Where the addon is looked for, first match wins (compiled tree, then source tree). */
export function addonCandidates (): string[] {
  return [
    fileURLToPath(new URL('../../../native/fuse/build/Release/palm_fuse.node', import.meta.url)),
    fileURLToPath(new URL('./build/Release/palm_fuse.node', import.meta.url))
  ]
}

let cached: FuseAddon | undefined

/**
 * The addon, loaded once (`candidates` is for tests). Throws NotSupportedError (EOPNOTSUPP) naming the Debian package when
 * it was not built (libfuse3-dev missing at install) or libfuse3 is missing at run time.
 */
export function loadFuseAddon (candidates?: string[]): FuseAddon {
  if (candidates == null && cached != null) return cached
  const list = candidates ?? addonCandidates()
  const path = list.find(p => existsSync(p))
  if (path == null) {
    throw new NotSupportedError(`PALM's FUSE addon is not built (looked for ${list.join(', ')}): ${INSTALL_HINT}`, {
      details: { packages: ['fuse3', 'libfuse3-dev'], candidates: list }
    })
  }
  try {
    const addon = createRequire(import.meta.url)(path) as FuseAddon
    if (candidates == null) cached = addon
    return addon
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err)
    const pkg = /libfuse3\.so/.test(text) ? 'libfuse3-3 (apt-get install fuse3)' : 'fuse3 and libfuse3-dev'
    throw new NotSupportedError(`PALM's FUSE addon ${path} could not be loaded (${text}): install ${pkg}, then run \`npm rebuild\``, {
      cause: err,
      details: { path }
    })
  }
}
