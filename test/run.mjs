#!/usr/bin/env node
// Runs the node:test suite from the compiled tree (dist/test). Arguments filter test files by
// substring: `npm test -- unit/chunk lan/`. Node 20 has no glob support in --test, hence this file.
//
// The whole suite (no filter) runs in two lanes at once, each one file at a time: the namespace
// LAN tests (and the demo, which builds namespaces too) in one, everything else in the other. The
// LAN tests spend most of their time waiting on devices, timers and the network, so the two lanes
// share the two cores well and the suite takes about half the time. Two in-process unit files
// (about 40 and 50 s) run at the end of the LAN lane, to even the two lanes out. Every output line is
// prefixed with its lane's name. `PALM_TEST_LANES=1` runs everything in one lane, as a filtered run does.
import { readdirSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
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

/**
 * Keeps each failing test's `not ok` line and its YAML block (capped), so that the end of the output
 * names every failure of every lane: CI shows only the tail, and one lane may end long before the
 * other.
 */
function failureRecorder () {
  const failures = []
  let current = null
  return {
    failures,
    line (text) {
      if (/^\s*not ok \d+/.test(text)) {
        current = [text]
        failures.push(current)
      } else if (current != null) {
        if (current.length < 40) current.push(text)
        if (/^\s*\.\.\.\s*$/.test(text)) current = null
      }
    }
  }
}

/** One `node --test` over `list`, one file at a time; resolves to its exit code and failures. */
function lane (name, list, prefixed) {
  const recorder = failureRecorder()
  const started = Date.now()
  const child = spawn(process.execPath, ['--import', polyfill, '--test', '--test-concurrency=1', ...passThrough, ...list], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: root
  })
  const prefix = prefixed ? `[${name}] ` : ''
  createInterface({ input: child.stdout }).on('line', line => {
    process.stdout.write(`${prefix}${line}\n`)
    recorder.line(line)
  })
  return new Promise(resolve => {
    child.on('exit', (code, signal) => {
      const rc = code ?? (signal != null ? 1 : 0)
      resolve({ name, rc, files: list.length, seconds: Math.round((Date.now() - started) / 1000), failures: recorder.failures })
    })
  })
}

/** Rest-lane files that run at the end of the LAN lane instead, to even the two lanes out. */
const BALANCE = [join('unit', 'meta', 'merge-model.test.js'), join('unit', 'vfs', 'differential.test.js'), join('integration', 'differential-mount.test.js')]
const isLan = f => { const r = relative(testRoot, f); return r.startsWith('lan/') || r === join('integration', 'demo.test.js') }
const inLanLane = f => isLan(f) || BALANCE.includes(relative(testRoot, f))
const lanes = filters.length === 0 && process.env.PALM_TEST_LANES !== '1'
  ? [['lan', [...files.filter(isLan), ...files.filter(f => !isLan(f) && inLanLane(f))]], ['rest', files.filter(f => !inLanLane(f))]].filter(([, l]) => l.length > 0)
  : [['all', files]]
const results = await Promise.all(lanes.map(([name, list]) => lane(name, list, lanes.length > 1)))
console.log('# summary')
for (const r of results) {
  console.log(`# lane ${r.name}: ${r.files} files, exit ${r.rc}, ${r.seconds} s, ${r.failures.length} not ok`)
  for (const block of r.failures) for (const text of block) console.log(`# [${r.name}] ${text}`)
}
process.exit(results.find(r => r.rc !== 0)?.rc ?? 0)
