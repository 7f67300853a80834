/**
 * `mount()`: validates options, mounts through the addon, waits for the kernel's INIT, and returns
 * the FuseSession. The session ends on `unmount()` or when the mount goes away from outside (then
 * `closed` resolves too); either way `ops.destroy` runs once.
 */
import { stat, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import {
  BusyError, InvalidArgumentError, NotDirectoryError, NotFoundError, NotPermittedError, NotSupportedError,
  type PalmError
} from '../../src/errors.js'
import { logger } from '../../src/util/logger.js'
import * as C from './constants.js'
import { createDispatcher } from './dispatch.js'
import { loadFuseAddon, type NativeConfig, type NativeSession } from './load.js'
import { allowOtherPermitted, findMount } from './mounts.js'
import type { FuseMountOptions, FuseOps, FuseSession, FuseSessionStats } from './types.js'

const log = logger('palm:fuse:binding')

/** libfuse 3 reads at most 256 pages per request. */
const MAX_WRITE_LIMIT = 1024 * 1024
const INIT_TIMEOUT_MS = 10_000

type Resolved = Required<Omit<FuseMountOptions, 'ioSizeBytes'>> & { ioSizeBytes: number }

function check (ok: boolean, what: string): void {
  if (!ok) throw new InvalidArgumentError(`invalid FUSE mount option: ${what}`)
}

/** Applies defaults once and validates; see FuseMountOptions for each default. */
export function resolveMountOptions (o: FuseMountOptions = {}): Resolved {
  const r: Resolved = {
    fsname: o.fsname ?? 'palm',
    subtype: o.subtype ?? 'palm',
    defaultPermissions: o.defaultPermissions ?? true,
    allowOther: o.allowOther ?? false,
    autoUnmount: o.autoUnmount ?? false,
    maxWriteBytes: o.maxWriteBytes ?? MAX_WRITE_LIMIT,
    ioSizeBytes: o.ioSizeBytes ?? o.maxWriteBytes ?? MAX_WRITE_LIMIT,
    entryTimeoutSec: o.entryTimeoutSec ?? 1,
    attrTimeoutSec: o.attrTimeoutSec ?? 1,
    readdirplus: o.readdirplus ?? 'auto',
    writebackCache: o.writebackCache ?? false,
    securityCapability: o.securityCapability ?? false,
    threads: o.threads ?? 0,
    readAheadKb: o.readAheadKb ?? 1024,
    maxInFlight: o.maxInFlight ?? 1024,
    timeoutMs: o.timeoutMs ?? 15_000,
    debug: o.debug ?? false
  }
  const name = /^[A-Za-z0-9._@+-]{1,64}$/
  // The fsname is the mount's source: PALM writes `palm:<home>` there (paths %-encoded, no commas).
  check(/^[A-Za-z0-9._@+/:%#-]{1,1024}$/.test(r.fsname), `fsname ${JSON.stringify(r.fsname)} (letters, digits, ._@+/:%#- only, at most 1024)`)
  check(name.test(r.subtype), `subtype ${JSON.stringify(r.subtype)} (letters, digits, ._@+- only)`)
  check(Number.isInteger(r.maxWriteBytes) && r.maxWriteBytes >= 4096 && r.maxWriteBytes <= MAX_WRITE_LIMIT, `maxWriteBytes ${r.maxWriteBytes} (4096..${MAX_WRITE_LIMIT})`)
  check(Number.isInteger(r.ioSizeBytes) && r.ioSizeBytes >= 512 && r.ioSizeBytes <= 16 * MAX_WRITE_LIMIT, `ioSizeBytes ${r.ioSizeBytes}`)
  check(Number.isFinite(r.entryTimeoutSec) && r.entryTimeoutSec >= 0, `entryTimeoutSec ${r.entryTimeoutSec}`)
  check(Number.isFinite(r.attrTimeoutSec) && r.attrTimeoutSec >= 0, `attrTimeoutSec ${r.attrTimeoutSec}`)
  check(Number.isInteger(r.threads) && r.threads >= 0 && r.threads <= 64, `threads ${r.threads} (0..64)`)
  check(Number.isInteger(r.maxInFlight) && r.maxInFlight >= 16 && r.maxInFlight <= 65536, `maxInFlight ${r.maxInFlight} (16..65536)`)
  check(Number.isFinite(r.timeoutMs) && r.timeoutMs >= 0, `timeoutMs ${r.timeoutMs}`)
  check(Number.isInteger(r.readAheadKb) && r.readAheadKb >= 0 && r.readAheadKb <= 65536, `readAheadKb ${r.readAheadKb} (0..65536)`)
  check(r.readdirplus === true || r.readdirplus === false || r.readdirplus === 'auto', `readdirplus ${String(r.readdirplus)}`)
  return r
}

/** libfuse's argument vector for these options. */
export function fuseArgs (r: Resolved, allowOther: boolean): string[] {
  const o = [`fsname=${r.fsname}`, `subtype=${r.subtype}`]
  if (r.defaultPermissions) o.push('default_permissions')
  if (allowOther) o.push('allow_other')
  if (r.autoUnmount) o.push('auto_unmount')
  return ['palm', '-o', o.join(','), ...(r.debug ? ['-d'] : [])]
}

function mountError (path: string, text: string): PalmError {
  const msg = `could not mount FUSE at ${path}: ${text.trim() || 'libfuse gave no reason'}`
  const details = { path }
  if (/No such file/i.test(text)) return new NotFoundError(msg, { details })
  if (/Permission denied|not permitted|only allowed if/i.test(text)) return new NotPermittedError(`${msg} (check /etc/fuse.conf and /dev/fuse permissions)`, { details })
  if (/busy/i.test(text)) return new BusyError(msg, { details })
  return new NotSupportedError(`${msg} (run checkFuseSystem() for what is missing)`, { details })
}

async function checkMountpoint (path: string): Promise<void> {
  const m = await findMount(path)
  if (m != null && m.fsType.startsWith('fuse')) {
    throw new BusyError(`${path} already has a FUSE mount (${m.source}, maybe stale): unmount it first (recoverStaleMount or \`palm unmount\`)`, { details: { path } })
  }
  try {
    if (!(await stat(path)).isDirectory()) throw new NotDirectoryError(`mount point ${path} is not a directory`, { details: { path } })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`mount point ${path} does not exist: create it first`, { details: { path } })
    throw err
  }
}

/** The kernel reads ahead 128 KiB on a FUSE mount unless told more through its bdi (root only). */
async function raiseReadahead (path: string, kb: number): Promise<void> {
  const m = await findMount(path)
  if (m == null) return
  try {
    await writeFile(`/sys/class/bdi/${m.major}:${m.minor}/read_ahead_kb`, String(kb))
  } catch (err) {
    log('readahead of %s stays at the kernel default (%s): sequential reads arrive in 128 KiB requests', path, (err as NodeJS.ErrnoException).code)
  }
}

class Session implements FuseSession {
  readonly mountpoint: string
  readonly closed: Promise<void>
  readonly #native: NativeSession
  readonly #ops: FuseOps
  #unmounting?: Promise<void>
  #markClosed!: () => void

  constructor (mountpoint: string, native: NativeSession, ops: FuseOps) {
    this.mountpoint = mountpoint
    this.#native = native
    this.#ops = ops
    this.closed = new Promise(resolve => { this.#markClosed = resolve })
  }

  async unmount (): Promise<void> {
    this.#unmounting ??= new Promise<void>(resolve => { this.#native.unmount(() => { resolve() }) }).then(() => {
      log('unmounted %s', this.mountpoint)
      try { this.#ops.destroy?.() } catch (err) { log.error('fuse destroy threw: %e', err) }
      this.#markClosed()
    })
    await this.#unmounting
  }

  notifyInvalInode (ino: number, offset: number, length: number): void {
    this.#native.notifyInvalInode(ino, offset, length)
  }

  notifyInvalEntry (parent: number, name: string): void {
    this.#native.notifyInvalEntry(parent, name)
  }

  stats (): FuseSessionStats {
    return this.#native.stats()
  }
}

/**
 * Mounts `ops` at `mountpoint` and resolves once the kernel has connected (FUSE_INIT answered).
 * Throws NotFoundError / NotDirectoryError / BusyError (already mounted, maybe stale) /
 * NotPermittedError / NotSupportedError (addon or system missing, names the package).
 */
export async function mount (mountpoint: string, ops: FuseOps, options: FuseMountOptions = {}): Promise<FuseSession> {
  const r = resolveMountOptions(options)
  const path = resolve(mountpoint)
  await checkMountpoint(path)
  const addon = loadFuseAddon()
  let allowOther = r.allowOther
  if (allowOther && !(await allowOtherPermitted())) {
    log.error('allow_other requested for %s but /etc/fuse.conf lacks user_allow_other: mounting for this user only', path)
    allowOther = false
  }
  const config: NativeConfig = {
    maxWrite: r.maxWriteBytes,
    threads: r.threads,
    slots: r.maxInFlight,
    maxBuffers: 16,
    readdirplus: r.readdirplus === 'auto' ? 2 : r.readdirplus ? 1 : 0,
    writeback: r.writebackCache ? 1 : 0,
    securityCapability: r.securityCapability ? 1 : 0,
    debug: r.debug ? 1 : 0,
    blksize: r.ioSizeBytes,
    timeoutMs: r.timeoutMs,
    implemented: C.OPTIONAL_OPS.reduce((bits, name) => typeof ops[name] === 'function' ? bits | (1 << C.OP[name]) : bits, 0)
  }
  const d = createDispatcher(ops, r, log)
  let session: Session | undefined
  let onInit: (() => void) | undefined
  const event = (kind: number, a: number, b: number): void => {
    if (kind === C.EVENT_INIT) onInit?.()
    if (kind === C.EVENT_ENDED) {
      log('FUSE connection for %s ended from outside (unmounted or aborted)', path)
      void session?.unmount()
    }
    if (kind === C.EVENT_TIMEOUT) log.error('fuse %s on %s did not settle within %d ms: answered ETIMEDOUT', C.OP_NAMES[a], path, b)
  }
  let native: NativeSession
  try {
    native = addon.createSession(path, fuseArgs(r, allowOther), config, d.dispatch, d.forget, event)
  } catch (err) {
    throw new InvalidArgumentError(`libfuse rejected the mount options for ${path}: ${(err as Error).message}`, { cause: err })
  }
  d.bind(native)
  session = new Session(path, native, ops)
  const inited = new Promise<void>(resolve => { onInit = resolve })
  await new Promise<void>((resolve, reject) => {
    native.mount(err => { err == null ? resolve() : reject(mountError(path, err)) })
  })
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>(resolve => { timer = setTimeout(() => { resolve('timeout') }, INIT_TIMEOUT_MS) })
  const first = await Promise.race([inited, timedOut])
  clearTimeout(timer)
  if (first === 'timeout') {
    await session.unmount()
    throw new NotSupportedError(`the kernel did not start the FUSE connection at ${path} within ${INIT_TIMEOUT_MS} ms`, { details: { path } })
  }
  if (r.readAheadKb > 0) await raiseReadahead(path, r.readAheadKb)
  try { ops.init?.() } catch (err) { log.error('fuse init threw: %e', err) }
  log('mounted %s (max_write %d)', path, session.stats().maxWrite)
  return session
}
