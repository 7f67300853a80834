import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, it } from 'node:test'

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
