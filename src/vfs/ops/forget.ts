import type { VfsCore } from '../core.js'

/** The kernel dropped `nlookup` references; an unlinked inode nothing holds is released. Never rejects. */
export async function forget (core: VfsCore, ino: number, nlookup: number): Promise<void> {
  if (core.inodes.forget(ino, nlookup)) await core.releaseInode(ino)
}

/** A readdirplus entry was sent: the kernel holds one more reference. */
export function rememberLookup (core: VfsCore, ino: number): void {
  core.inodes.remember(ino)
}
