import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { describe, it } from 'node:test'

const MALLOC = new URL('../../../src/daemon/malloc.js', import.meta.url).href
const UPDATES = 20

/**
 * Minor page faults per 4 MiB `aes-256-ctr` update in a fresh node, with or without the daemon's
 * malloc settings: each update's output is a new 4 MiB buffer, freed before the next.
 */
function faultsPerUpdate (tuned: boolean): number {
  const script = `
    import { createCipheriv, randomBytes } from 'node:crypto'
    import { readFileSync } from 'node:fs'
    const { tuneDaemonMalloc } = await import(${JSON.stringify(MALLOC)})
    if (${tuned} && !tuneDaemonMalloc(msg => { console.error(msg) })) process.exit(3)
    const minflt = () => Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[7])
    const input = randomBytes(4 << 20)
    const once = () => { createCipheriv('aes-256-ctr', randomBytes(32), Buffer.alloc(16)).update(input) }
    // Until V8's first collections free the early buffers, every one is new memory either way.
    for (let i = 0; i < 60; i++) once()
    const before = minflt()
    for (let i = 0; i < ${UPDATES}; i++) once()
    console.log(minflt() - before)`
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).trim()) / UPDATES
}

describe('daemon malloc settings', () => {
  // A 4 MiB buffer is 1,024 pages: without the settings each update faults most of them in again.
  it('lets a freed stripe-sized buffer be reused instead of faulted in again', () => {
    const tuned = faultsPerUpdate(true)
    const untuned = faultsPerUpdate(false)
    assert.ok(tuned < 64, `${tuned} page faults per 4 MiB update with the settings (${untuned} without)`)
  })
})
