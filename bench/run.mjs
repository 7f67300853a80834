#!/usr/bin/env node
// `npm run bench -- <name>…` runs bench/<name>.js from the compiled tree (dist/bench); no name runs all.
// Each benchmark prints a table and writes bench/results/<name>.json.
import { readdirSync, existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = resolve(fileURLToPath(new URL('..', import.meta.url)))
const benchDir = join(root, 'dist', 'bench')
if (!existsSync(benchDir)) { console.error('dist/bench is missing: run `npm run build` first'); process.exit(1) }
const all = readdirSync(benchDir).filter(f => f.endsWith('.bench.js')).map(f => f.replace(/\.bench\.js$/, '')).sort()
// Flags with a value may come as `--vs gluster`: passed on as `--vs=gluster`.
const VALUED = new Set(['--vs'])
const names = []
const flags = []
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]
  if (VALUED.has(a) && i + 1 < process.argv.length) flags.push(`${a}=${process.argv[++i]}`)
  else (a.startsWith('--') ? flags : names).push(a)
}
const chosen = names.length > 0 ? names : all
let failed = 0
for (const name of chosen) {
  if (!all.includes(name)) { console.error(`no benchmark "${name}"; have: ${all.join(', ')}`); process.exit(2) }
  console.log(`\n=== bench ${name} ===`)
  const r = spawnSync(process.execPath, ['--import', join(root, 'dist/src/util/polyfill.js'), join(benchDir, `${name}.bench.js`), ...flags], { stdio: 'inherit', cwd: root })
  if (r.status !== 0) failed++
}
process.exit(failed > 0 ? 1 : 0)
