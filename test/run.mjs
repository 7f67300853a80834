#!/usr/bin/env node
// Runs the node:test suite from the compiled tree (dist/test). Arguments filter test files by
// substring: `npm test -- unit/chunk lan/`. Node 20 has no glob support in --test, hence this file.
import { readdirSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = resolve(fileURLToPath(new URL('..', import.meta.url)))
const testRoot = join(root, 'dist', 'test')

function walk (dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p, out)
    else if (name.endsWith('.test.js')) out.push(p)
  }
  return out
}

const filters = process.argv.slice(2).filter(a => !a.startsWith('--'))
const passThrough = process.argv.slice(2).filter(a => a.startsWith('--'))
const files = walk(testRoot)
  .filter(f => filters.length === 0 || filters.some(s => relative(testRoot, f).includes(s)))
  .sort()
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')} under ${testRoot} (did the build run?)`)
  process.exit(1)
}
const polyfill = join(root, 'dist', 'src', 'util', 'polyfill.js')
const child = spawn(process.execPath, ['--import', polyfill, '--test', '--test-concurrency=1', ...passThrough, ...files], {
  stdio: 'inherit',
  cwd: root
})
child.on('exit', (code, signal) => { process.exit(code ?? (signal != null ? 1 : 0)) })
