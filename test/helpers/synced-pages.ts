/** Small synchronous overwrites, as a database does: 4 KiB pages each followed by fdatasync. */
import { randomBytes } from 'node:crypto'
import { open } from 'node:fs/promises'

/** Writes a random 4 KiB page at each of `offsets` into the file at `path`, fdatasync after each, and copies each into `expected`. */
export async function writeSyncedPages (path: string, expected: Buffer, offsets: number[]): Promise<void> {
  const fh = await open(path, 'r+')
  try {
    for (const off of offsets) {
      const page = randomBytes(4096)
      await fh.write(page, 0, page.length, off)
      await fh.datasync()
      page.copy(expected, off)
    }
  } finally {
    await fh.close()
  }
}
