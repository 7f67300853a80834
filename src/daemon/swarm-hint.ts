/**
 * Addresses of swarm devices learnt from an invite code (home/bootstrap.json): the daemon dials
 * them at start, so a device joined from another subnet finds the swarm without mDNS.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic, type HomePaths } from './home.js'

function file (paths: Pick<HomePaths, 'home'>): string {
  return join(paths.home, 'bootstrap.json')
}

export async function writeAddrsHint (paths: Pick<HomePaths, 'home'>, addrs: string[]): Promise<void> {
  await writeFileAtomic(file(paths), JSON.stringify(addrs, null, 2) + '\n', 0o600)
}

export async function readAddrsHint (paths: Pick<HomePaths, 'home'>): Promise<string[]> {
  try {
    const list = JSON.parse(await readFile(file(paths), 'utf8'))
    return Array.isArray(list) ? list.filter((a): a is string => typeof a === 'string') : []
  } catch {
    return []
  }
}
