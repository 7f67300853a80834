/**
 * The layering rule of STYLE.md §1, checked on the source: every relative import in src/** must go
 * downward, to a layer this layer may use, and into another layer only through its index.ts or
 * types.ts (constants.ts too, for shared limits). Everyone may import errors, util and config types.
 */
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { it } from 'node:test'
import { REPO } from '../../helpers/palm.js'

const SRC = join(REPO, 'src')

/** layer → layers it may import (besides errors, util, config types). */
const ALLOWED: Record<string, string[]> = {
  cli: ['daemon', 'config', 'demo'],
  demo: ['daemon', 'config'],
  daemon: ['fuse', 'vfs', 'meta', 'place', 'chunk', 'store', 'net', 'repair', 'config'],
  fuse: ['vfs', 'native/fuse', 'meta'],
  vfs: ['meta', 'place'],
  place: ['chunk', 'store', 'net'],
  repair: ['meta', 'place', 'chunk', 'store', 'net'],
  meta: [],
  chunk: ['native/rs'],
  store: [],
  net: ['store'],
  config: [],
  util: []
}
/** Files of another layer that are its public surface. */
const PUBLIC = new Set(['index.ts', 'types.ts', 'constants.ts'])

async function walk (dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) await walk(p, out)
    else if (e.name.endsWith('.ts')) out.push(p)
  }
  return out
}

/** "vfs", "native/fuse", "errors.ts" … for a path under the repo. */
function layerOf (file: string): string {
  const rel = relative(REPO, file).split('/')
  if (rel[0] === 'native') return `native/${rel[1]}`
  if (rel[0] !== 'src') return rel[0]
  return rel.length === 2 ? rel[1] : rel[1]
}

it('src/** imports only downward, through index.ts or types.ts', async () => {
  const problems: string[] = []
  for (const file of await walk(SRC)) {
    const from = layerOf(file)
    const text = await readFile(file, 'utf8')
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)) {
      const target = resolve(dirname(file), m[1]).replace(/\.js$/, '.ts')
      const to = layerOf(target)
      if (to === from || ['errors.ts', 'util'].includes(to)) continue
      const typeOnly = /^\s*(?:import|export)\s+type\s/.test(m[0])
      if (to === 'config' && (typeOnly || from === 'cli' || from === 'daemon')) continue
      const where = `${relative(REPO, file)} → ${relative(REPO, target)}`
      if (!(ALLOWED[from] ?? []).includes(to)) { problems.push(`${where}: ${from} may not import ${to}`); continue }
      const isNative = to.startsWith('native/')
      const base = target.split('/').pop() ?? ''
      if (!isNative && !PUBLIC.has(base) && !(to === 'daemon' && base === 'control-api.ts')) problems.push(`${where}: import ${to} through its index.ts or types.ts`)
    }
  }
  assert.deepEqual(problems, [])
})
