/**
 * Onboarding text: "Next:" hints carry --home when one was given, `palm invite` says how long its
 * code works, `palm help settings` is a table on a terminal and Markdown into a pipe.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { it } from 'node:test'
import { PALM_BIN, palm, testEnv } from '../helpers/palm.js'
import { createTempDir } from '../helpers/tmp.js'

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
