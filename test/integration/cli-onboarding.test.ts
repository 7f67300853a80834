/**
 * Onboarding text: "Next:" hints carry --home when one was given, `palm invite` says how long its
 * code works, `palm help settings` is a table on a terminal and Markdown into a pipe, and `palm join`
 * offers the next step (asks on a terminal; --mount [DIR] / --serve choose; a script only joins).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { PALM_BIN, palm, skipWithoutFuse, startMount, startServe, testEnv } from '../helpers/palm.js'
import { createTempDir, onCleanup } from '../helpers/tmp.js'

/** A new swarm's home and an invite code for it (no daemon runs). */
async function swarmCode (root: string): Promise<{ home: string, code: string }> {
  const home = join(root, 'a')
  assert.equal((await palm(['init', '--home', home, '--name', 'a', '--policy', '1-of-2'])).code, 0)
  return { home, code: (await palm(['invite', '--home', home])).stdout.trim() }
}

it('init\'s Next: hint names the --home it was given; invite says when the code expires', async (t) => {
  const home = join(await createTempDir(t), 'h')
  const r = await palm(['init', '--home', home, '--name', 'a'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, new RegExp(`^Next: \`palm mount --home ${home}\` to mount ~/palm; \`palm invite --home ${home}\` prints a code for your other devices; \`palm demo start\` shows a whole swarm on this machine\\.$`, 'm'))
  const invite = await palm(['invite', '--home', home])
  assert.equal(invite.code, 0, invite.stderr)
  assert.match(invite.stdout, /^\S+\n$/, 'stdout is the code alone')
  assert.match(invite.stderr, /^This code works once, until \S+, and only while this device runs; it does not contain the swarm key\. This device's daemon is not running: start it/)
  const json = JSON.parse((await palm(['invite', '--home', home, '--json', '--ttl', '10m'])).stdout)
  const left = Date.parse(json.expiresAt) - Date.now()
  assert.ok(left > 8 * 60_000 && left <= 10 * 60_000, `expires in ${left} ms, asked for 10 min`)
  assert.equal(json.listening, false)
})

it('help settings: an aligned table on a terminal, Markdown into a pipe', () => {
  const piped = spawnSync(process.execPath, [PALM_BIN, 'help', 'settings'], { env: testEnv(), encoding: 'utf8' })
  assert.match(piped.stdout, /^\| setting \| default \| flag \| environment \| meaning \|\n\|---\|/)
  // `script` gives the command a pseudo-terminal.
  const tty = spawnSync('script', ['-qec', `"${process.execPath}" "${PALM_BIN}" help settings`, '/dev/null'], { env: { ...testEnv(), COLUMNS: '100' }, encoding: 'utf8' })
  if (tty.error != null) { assert.fail(`script(1) is needed for this test: ${tty.error.message}`) }
  const lines = tty.stdout.replace(/\r/g, '').split('\n')
  assert.match(lines[0], /^SETTING +DEFAULT +FLAG +ENVIRONMENT$/)
  assert.match(lines[1], /^home +~\/\.palm +--home +PALM_HOME$/)
  assert.match(lines[2], /^ {4}This device's PALM home/)
})

it('join: --mount with --serve, or a folder without --mount, is a usage error (exit 2); a file to mount on is refused before anything is made', async (t) => {
  // Checked before the code is read: any code shows it.
  const code = 'CODE'
  const root = await createTempDir(t)
  const file = join(root, 'file')
  await writeFile(file, 'x')
  const onFile = await palm(['join', code, '--mount', file, '--home', join(root, 'h')])
  assert.deepEqual([onFile.code, onFile.stderr], [1, `palm: cannot mount at ${file}: it is a file; give a folder (it is made when missing)\n`])
  assert.deepEqual(await readdir(root), ['file'], 'no home was made')
  const both = await palm(['join', code, '--mount', '--serve'])
  assert.deepEqual([both.code, both.stderr], [2, 'palm join: --mount and --serve exclude each other: mount the folder here, or only lend disk space (see `palm help join`)\n'])
  const dir = await palm(['join', code, '/tmp/x'])
  assert.deepEqual([dir.code, dir.stderr], [2, 'palm join: unexpected /tmp/x: only `--mount DIR` takes a folder after the code (see `palm help join`)\n'])
})

it('join on a terminal asks what next (here: nothing); without a terminal it only joins', async (t) => {
  const root = await createTempDir(t)
  // An invite is redeemed at the running device that made it, once: one code per join.
  const env = testEnv({ PALM_DASHBOARD_PORT: '-1' })
  const { home } = await swarmCode(root)
  await startServe(t, home, { env })
  const invite = async (): Promise<string> => (await palm(['invite', '--home', home], { env })).stdout.trim()
  const piped = await palm(['join', await invite(), '--home', join(root, 'b'), '--name', 'b'], { env })
  assert.equal(piped.code, 0, piped.stderr)
  assert.match(piped.stdout, /\nNext: `palm mount --home \S+` to mount the folder here, or `palm serve --home \S+` to only lend disk space\.\n$/)
  assert.doesNotMatch(piped.stdout, /\[m\/s\/n\]/)
  // `script` gives the command a pseudo-terminal; an answer it does not know is asked again.
  const tty = spawnSync('script', ['-qec', `"${process.execPath}" "${PALM_BIN}" join ${await invite()} --home ${join(root, 'c')} --name c`, '/dev/null'], { env, input: 'x\nn\n', encoding: 'utf8', timeout: 60_000 })
  const out = tty.stdout.replace(/\r/g, '')
  assert.equal(tty.status, 0, out)
  assert.match(out, /Mount the folder at \S+ here \[m\], only lend this disk's space to the swarm \[s\], or nothing now \[n\]\? \[m\/s\/n\] /)
  assert.match(out, /Answer m, s or n\./)
  assert.match(out, /Next: `palm mount --home /)
})

it('join --mount DIR: joins, mounts there, and reports the journal catching up', { skip: skipWithoutFuse(), timeout: 120_000 }, async (t) => {
  const root = await createTempDir(t)
  const env = testEnv({ PALM_DASHBOARD_PORT: '-1' })
  const { home, code: offline } = await swarmCode(root)
  const a = await startMount(t, home, { env })
  for (let i = 0; i < 20; i++) await writeFile(join(a.mountpoint, `f${i}`), `file ${i}\n`)
  const code = (await palm(['invite', '--home', home], { env })).stdout.trim()
  assert.notEqual(code, offline, 'the running daemon adds its addresses')
  const b = join(root, 'b')
  const dir = join(root, 'mb')
  onCleanup(t, async () => { await palm(['unmount', '--home', b], { env }) })
  const r = await palm(['join', code, '--mount', dir, '--home', b, '--name', 'b'], { env, timeoutMs: 90_000 })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, new RegExp(`^mounted: ${dir} \\(daemon pid \\d+, log `, 'm'))
  assert.match(r.stdout, /^Caught up: received \d+ journal ops; this device has the whole tree \(compared with 1 device\)\.$/m)
  assert.equal((await readdir(dir)).length, 20)
})
