import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, it } from 'node:test'
import { hugePagesUntestable } from '../../helpers/palm.js'

const MALLOC = new URL('../../../src/daemon/malloc.js', import.meta.url).href
const UPDATES = 20
/** The child's exit code when the settings cannot be applied here (no addon, not glibc). */
const NOT_APPLIED = 3

/**
 * Minor page faults per 4 MiB `aes-256-ctr` update in a fresh node, with or without the daemon's
 * malloc settings (each update's output is a new 4 MiB buffer, freed before long), or the reason
 * the settings could not be applied.
 */
function faultsPerUpdate (tuned: boolean): number | string {
  const script = `
    import { createCipheriv, randomBytes } from 'node:crypto'
    import { readFileSync } from 'node:fs'
    import { format } from 'node:util'
    const { tuneDaemonMalloc } = await import(${JSON.stringify(MALLOC)})
    if (${tuned} && !tuneDaemonMalloc((...args) => { console.error(format(...args)) })) process.exit(${NOT_APPLIED})
    const minflt = () => Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[7])
    const input = randomBytes(4 << 20)
    const once = () => { createCipheriv('aes-256-ctr', randomBytes(32), Buffer.alloc(16)).update(input) }
    // Until V8's first collections free the early buffers, every one is new memory either way.
    for (let i = 0; i < 60; i++) once()
    const before = minflt()
    for (let i = 0; i < ${UPDATES}; i++) once()
    console.log(minflt() - before)`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 })
  if (r.status === NOT_APPLIED) return r.stderr.trim()
  assert.equal(r.status, 0, `the child failed: ${r.stderr}`)
  return Number(r.stdout.trim()) / UPDATES
}

describe('daemon malloc settings', () => {
  // A 4 MiB buffer is 1,024 pages: without the settings each update faults most of them in again.
  it('lets a freed stripe-sized buffer be reused instead of faulted in again', t => {
    const tuned = faultsPerUpdate(true)
    if (typeof tuned === 'string') {
      t.skip(`the settings cannot be applied here: ${tuned}`)
      return
    }
    const untuned = faultsPerUpdate(false)
    assert.ok(tuned < 64, `${tuned} page faults per 4 MiB update with the settings (${String(untuned)} without)`)
  })
})

const DAEMON_ENV = new URL('../../../src/daemon/daemon-env.js', import.meta.url).href

/**
 * Minor page faults a fresh node takes to fill 64 new 4 MiB buffers (kept alive, so each is new
 * memory) with GLIBC_TUNABLES as given (undefined: none) and the daemon's malloc settings, or the
 * reason those cannot be applied.
 */
function faultsToFill (tunables: string | undefined): number | string {
  const script = `
    import { readFileSync } from 'node:fs'
    const { tuneDaemonMalloc } = await import(${JSON.stringify(MALLOC)})
    if (!tuneDaemonMalloc(() => {})) process.exit(${NOT_APPLIED})
    const minflt = () => Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[7])
    const keep = []
    const before = minflt()
    for (let i = 0; i < 64; i++) keep.push(new Uint8Array(4 << 20).fill(1))
    console.log(minflt() - before)`
  const env = { ...process.env }
  delete env.GLIBC_TUNABLES
  if (tunables != null) env.GLIBC_TUNABLES = tunables
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000, env })
  if (r.status === NOT_APPLIED) return 'the daemon\'s malloc settings cannot be applied here'
  assert.equal(r.status, 0, `the child failed: ${r.stderr}`)
  return Number(r.stdout.trim())
}

describe('the daemon environment (GLIBC_TUNABLES)', () => {
  it('adds huge pages to what the user set, and leaves a setting of theirs for the same name', async () => {
    const { daemonEnv, startedWithDaemonEnv, DAEMON_TUNABLES } = await import(DAEMON_ENV)
    assert.equal(DAEMON_TUNABLES, 'glibc.malloc.hugetlb=1')
    assert.equal(daemonEnv({ PATH: '/bin' }).GLIBC_TUNABLES, 'glibc.malloc.hugetlb=1')
    assert.equal(daemonEnv({ GLIBC_TUNABLES: '' }).GLIBC_TUNABLES, 'glibc.malloc.hugetlb=1')
    assert.equal(daemonEnv({ GLIBC_TUNABLES: 'glibc.malloc.tcache_count=7' }).GLIBC_TUNABLES, 'glibc.malloc.tcache_count=7:glibc.malloc.hugetlb=1')
    const theirs = { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }
    assert.equal(daemonEnv(theirs), theirs, 'their own value wins, unchanged')
    const once = daemonEnv({ PATH: '/bin' })
    assert.equal(daemonEnv(once), once, 'adding twice changes nothing')
    assert.equal(startedWithDaemonEnv(once), true)
    assert.equal(startedWithDaemonEnv({ PATH: '/bin' }), false)
    const input = { PATH: '/bin' }
    daemonEnv(input)
    assert.deepEqual(input, { PATH: '/bin' }, 'the caller\'s object is not changed')
  })

  // 256 MiB of new buffers is 65,536 pages of 4 KiB; with huge pages, 128 of 2 MiB (and a few small).
  it('makes new stripe-sized buffers cost a fault per 2 MiB instead of per 4 KiB', async t => {
    const why = hugePagesUntestable()
    if (why != null) { t.skip(why); return }
    const { DAEMON_TUNABLES } = await import(DAEMON_ENV)
    const plain = faultsToFill(undefined)
    const huge = faultsToFill(DAEMON_TUNABLES)
    if (typeof plain === 'string') { t.skip(plain); return }
    if (typeof huge === 'string') { t.skip(huge); return }
    assert.ok(plain > 30_000, `${plain} faults without huge pages: the test does not see new memory`)
    assert.ok(huge < plain / 10, `${huge} faults with ${DAEMON_TUNABLES}, ${plain} without`)
  })
})
