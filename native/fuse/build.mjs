#!/usr/bin/env node
// Builds PALM's FUSE addon from source at install time (package.json scripts.install), against the
// system's libfuse 3 (Debian: libfuse3-dev) with npm's bundled node-gyp. It never fails the
// install: without libfuse3-dev or a compiler it prints what to install, and the loader
// (native/fuse/load.ts) throws the same advice when something tries to mount.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const dir = dirname(fileURLToPath(import.meta.url))
const HINT = 'Install the Debian packages with `apt-get install fuse3 libfuse3-dev` (and build-essential), then run `npm rebuild`.'

function skip (why) {
  console.warn(`\npalm: the FUSE addon was not built: ${why}. \`palm mount\` will not work until it is. ${HINT}\n`)
  process.exit(0)
}

const pc = spawnSync('pkg-config', ['--exists', 'fuse3'])
if (pc.error != null) skip('pkg-config is not installed, so libfuse3-dev cannot be found')
if (pc.status !== 0) skip('libfuse3-dev is not installed (pkg-config fuse3 found nothing)')

// npm names its bundled node-gyp in npm_config_node_gyp for lifecycle scripts; outside npm, use
// npm's copy next to node, else the one on PATH. Node's headers: npm's nodedir setting, else the distribution's /usr/include/node.
const args = ['rebuild']
if (process.env.npm_config_nodedir == null && existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr')
const bundled = `${dirname(process.execPath)}/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js`
const gyp = process.env.npm_config_node_gyp ?? (existsSync(bundled) ? bundled : undefined)
const r = gyp != null
  ? spawnSync(process.execPath, [gyp, ...args], { cwd: dir, stdio: 'inherit' })
  : spawnSync('node-gyp', args, { cwd: dir, stdio: 'inherit' })
if (r.error != null) skip(`node-gyp could not be run (${r.error.message})`)
if (r.status !== 0) skip(`node-gyp failed (exit ${r.status}, see the compiler output above)`)
console.log('palm: built the FUSE addon (native/fuse/build/Release/palm_fuse.node)')
