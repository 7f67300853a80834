import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { describe, it } from 'node:test'
import { HEAP_GROWING_PERCENT } from '../../../src/daemon/heap.js'

describe('daemon heap setting', () => {
  // v8.setFlagsFromString ignores a flag it does not know, so a Node whose V8 dropped or renamed
  // this one would lose the setting without a word: this test is where that shows.
  it('names a flag this Node\'s V8 has', () => {
    const options = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8', maxBuffer: 16 << 20 })
    assert.match(options, /^\s*--heap-growing-percent \(/m)
    assert.ok(HEAP_GROWING_PERCENT > 0)
  })
})
