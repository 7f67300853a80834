/**
 * The path-based surface `posixTests` drives. One implementation runs the VFS in-process
 * (test/helpers/vfs-posix-target.ts, resolving paths by lookups as the kernel does); another runs
 * node:fs on a real directory or mount. Paths are relative to the target's root ("a/b" or "/a/b").
 * Failures reject with an error whose `code` is the errno name ('ENOENT', …), as node:fs does.
 */

export interface PosixStat {
  ino: number
  size: number
  nlink: number
  /** st_mode: type bits (S_IFREG, S_IFDIR, S_IFLNK, …) | permission bits. */
  mode: number
  uid: number
  gid: number
  atimeNs: bigint
  mtimeNs: bigint
  ctimeNs: bigint
}

export interface PosixStatfs {
  bsize: number
  blocks: number
  bfree: number
  bavail: number
  files: number
  ffree: number
}

export interface PosixTargetFeatures {
  /** rename with RENAME_NOREPLACE / RENAME_EXCHANGE (renameat2). */
  renameFlags: boolean
  /** user.* extended attributes. */
  xattrs: boolean
  /** PALM's user.palm.policy and user.palm.health. */
  palmXattrs: boolean
}

/** rename flags, as renameat2 takes them. */
export const RENAME_NOREPLACE = 1
export const RENAME_EXCHANGE = 2
/** setxattr flags. */
export const XATTR_CREATE = 1
export const XATTR_REPLACE = 2

export interface PosixTarget {
  readonly name: string
  readonly features: PosixTargetFeatures

  mkdir: (path: string, mode?: number) => Promise<void>
  rmdir: (path: string) => Promise<void>
  /** open(2) with numeric flags (fs.constants); returns a descriptor. */
  open: (path: string, flags: number, mode?: number) => Promise<number>
  /** At `position`, or at the descriptor's position (then advanced) when omitted. Short only at EOF. */
  read: (fd: number, length: number, position?: number) => Promise<Uint8Array>
  /** At `position`, or at the descriptor's position (then advanced) when omitted; O_APPEND writes at the end. */
  write: (fd: number, data: Uint8Array, position?: number) => Promise<number>
  ftruncate: (fd: number, size: number) => Promise<void>
  fsync: (fd: number) => Promise<void>
  fstat: (fd: number) => Promise<PosixStat>
  close: (fd: number) => Promise<void>
  writeFile: (path: string, data: Uint8Array) => Promise<void>
  readFile: (path: string) => Promise<Uint8Array>
  stat: (path: string) => Promise<PosixStat>
  lstat: (path: string) => Promise<PosixStat>
  /** Names without "." and "..", in any order. */
  readdir: (path: string) => Promise<string[]>
  rename: (from: string, to: string, flags?: number) => Promise<void>
  unlink: (path: string) => Promise<void>
  link: (existing: string, newPath: string) => Promise<void>
  symlink: (target: string, path: string) => Promise<void>
  readlink: (path: string) => Promise<string>
  chmod: (path: string, mode: number) => Promise<void>
  chown: (path: string, uid: number, gid: number) => Promise<void>
  utimens: (path: string, atimeNs: bigint, mtimeNs: bigint) => Promise<void>
  truncate: (path: string, size: number) => Promise<void>
  setxattr: (path: string, name: string, value: Uint8Array, flags?: number) => Promise<void>
  getxattr: (path: string, name: string) => Promise<Uint8Array>
  listxattr: (path: string) => Promise<string[]>
  removexattr: (path: string, name: string) => Promise<void>
  statfs: (path: string) => Promise<PosixStatfs>
}

export interface PosixSetupOptions {
  /** Capacity of the device's store in bytes (ENOSPC tests); default: plenty. */
  capacityBytes?: number
}

export interface PosixSuiteOptions {
  /**
   * A fresh, empty file system. Called once for the suite and once per test that needs special
   * options; undefined when this kind of target cannot offer them (the test is skipped).
   */
  setup: (options: PosixSetupOptions) => Promise<PosixTarget | undefined>
  teardown: (target: PosixTarget) => Promise<void>
}
