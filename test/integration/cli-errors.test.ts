/**
 * One error style for the `palm` command: one line saying what happened and what to do, exit code
 * 2 for a wrong command line and 1 for a failure, no stack trace (DEBUG=palm:* adds it), writing
 * into a closed pipe ends quietly. Each case checks the exact line and exit code.
 */
import assert from 'node:assert/strict'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { createPalmHome, palm, skipWithoutFuse, startMount, testEnv } from '../helpers/palm.js'
import { createTempDir } from '../helpers/tmp.js'
import { isMountpoint } from '../../src/daemon/mountinfo.js'

/** The env of a user: the 1 GiB minimum capacity (the test env lowers it for small test devices). */
const userEnv = (): Record<string, string> => ({ ...testEnv(), PALM_MIN_CAPACITY: '' })

it('an unknown flag is named with the command\'s valid flags, exit 2', async () => {
  const r = await palm(['status', '--frobnicate'])
  assert.equal(r.code, 2)
  assert.equal(r.stderr, 'palm status: unknown flag --frobnicate; valid flags: --home, --json, --help (see `palm help status`)\n')
  const noCmd = await palm(['frobnicate'])
  assert.equal(noCmd.code, 2)
  assert.equal(noCmd.stderr, 'palm: no command "frobnicate"; see `palm help`\n')
  const extra = await palm(['get'])
  assert.equal(extra.code, 2)
  assert.equal(extra.stderr, 'palm get: needs exactly one fragment CID; `palm info FILE` lists the CIDs of a file (see `palm help get`)\n')
})

it('impossible capacities are refused with the reason, exit 2, and nothing is created', async (t) => {
  const dir = await createTempDir(t)
  const home = join(dir, 'h')
  const negative = await palm(['init', '--home', home, '--capacity', '-5'], { env: userEnv() })
  assert.equal(negative.code, 2)
  assert.equal(negative.stderr, 'palm init: --capacity -5: a value starting with "-" cannot be right here (no setting takes a negative number); give e.g. --capacity 10G (see `palm help init`)\n')
  const tiny = await palm(['init', '--home', home, '--capacity', '5'], { env: userEnv() })
  assert.equal(tiny.code, 2)
  assert.equal(tiny.stderr, 'palm init: capacity 5 B is below the smallest this device may offer, 1.00 GiB; give e.g. --capacity 10G, or leave it out to offer 90% of the free space (see `palm help init`)\n')
  const huge = await palm(['init', '--home', home, '--capacity', '7000T'], { env: userEnv() })
  assert.equal(huge.code, 2)
  assert.match(huge.stderr, new RegExp(`^palm init: capacity 6.84 PiB is more than the whole disk holding ${home} \\(\\S+ \\S+, \\S+ \\S+ free\\); give at most --capacity \\d+G, or leave it out to offer 90% of the free space \\(see \`palm help init\`\\)\\n$`))
  const word = await palm(['init', '--home', home, '--capacity', '10X'], { env: userEnv() })
  assert.equal(word.code, 2)
  assert.equal(word.stderr, 'palm init: invalid settings: --capacity: "10X" is not a size such as 10G or 500M (see `palm help init`)\n')
  assert.deepEqual(await readdir(dir), [], 'a refused init leaves no home behind')
  const ok = await palm(['init', '--home', home, '--capacity', '1G'], { env: userEnv() })
  assert.equal(ok.code, 0, ok.stderr)
})

it('mount refuses a file and a non-empty folder (unless --allow-non-empty) with one line, exit 1', { skip: skipWithoutFuse(), timeout: 120_000 }, async (t) => {
  const home = await createPalmHome(t)
  const dir = await createTempDir(t)
  const file = join(dir, 'a-file')
  await writeFile(file, 'x')
  const onFile = await palm(['mount', file, '--home', home])
  assert.equal(onFile.code, 1)
  assert.equal(onFile.stderr, `palm: cannot mount at ${file}: it is a file; give a folder (it is made when missing)\n`)
  const full = join(dir, 'full')
  await mkdir(full)
  await writeFile(join(full, 'mine.txt'), 'mine')
  const onFull = await palm(['mount', full, '--home', home])
  assert.equal(onFull.code, 1)
  assert.equal(onFull.stderr, `palm: cannot mount at ${full}: the folder is not empty (it holds mine.txt) and the mount would hide its files; empty it, choose another folder, or add --allow-non-empty\n`)
  assert.equal(await isMountpoint(full), false)
  // With the flag it mounts (foreground child, so the test never serves its own mount).
  const m = await startMount(t, home, { mountpoint: full, args: ['--allow-non-empty'] })
  assert.ok(await isMountpoint(m.mountpoint, 'fuse.palm'))

  // A second daemon for the same home: one line, no BusyError stack, exit 1.
  const serve = await palm(['serve', '--home', home])
  assert.equal(serve.code, 1)
  assert.equal(serve.stderr.split('\n').length, 2, serve.stderr)
  assert.match(serve.stderr, new RegExp(`^palm: a PALM daemon already runs for ${home} \\(pid \\d+, mounted at ${full}\\); stop it with \`palm unmount\` first\\n$`))
  assert.doesNotMatch(serve.stderr, /BusyError|\n\s+at /)
})

it('palm demo: a wrong verb, device count or missing demo is one line with its exit code', async (t) => {
  const dir = join(await createTempDir(t), 'none')
  const status = await palm(['demo', 'status', '--dir', dir])
  assert.deepEqual([status.code, status.stderr], [1, `palm: no demo runs in ${dir}: start one with \`palm demo start\`\n`])
  const heal = await palm(['demo', 'heal', '--dir', dir])
  assert.deepEqual([heal.code, heal.stderr], [2, 'palm demo: heal needs a DEVICE (d1, d2, …; see `palm demo status`) (see `palm help demo`)\n'])
  const verb = await palm(['demo', 'explode', 'd2', '--dir', dir])
  assert.deepEqual([verb.code, verb.stderr], [2, 'palm demo: no demo verb "explode"; the verbs are start, status, kill, revive, hang, partition, heal, corrupt, stop (see `palm help demo`)\n'])
  const few = await palm(['demo', 'start', '--devices', '2', '--dir', dir])
  assert.deepEqual([few.code, few.stderr], [2, 'palm demo: a demo has 3 to 12 devices (got 2) (see `palm help demo`)\n'])
  assert.equal((await readdir(join(dir, '..'))).length, 0, 'nothing was made')
})
