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

it('init\'s Next: hint names the --home it was given; invite says the code does not expire', async (t) => {
  const home = join(await createTempDir(t), 'h')
  const r = await palm(['init', '--home', home, '--name', 'a'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, new RegExp(`^Next: \`palm mount --home ${home}\` to mount ~/palm; \`palm invite --home ${home}\` prints a code for your other devices; \`palm demo start\` shows a whole swarm on this machine\\.$`, 'm'))
  const invite = await palm(['invite', '--home', home])
  assert.equal(invite.code, 0, invite.stderr)
  assert.match(invite.stdout, /^\S+\n$/, 'stdout is the code alone')
  assert.equal(invite.stderr, 'This code does not expire: it carries the swarm key, so it works for anyone who has it for as long as the swarm keeps that key. Share it privately; `palm join CODE` on the other device.\n')
  const json = JSON.parse((await palm(['invite', '--home', home, '--json'])).stdout)
  assert.equal(json.expires, null)
  assert.match(json.validity, /as long as the swarm keeps that key/)
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
