/**
 * The mount source that names a home: safe for libfuse's option list (no commas, no spaces), read
 * back from mountinfo to the same home, and short enough for any home path.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { homeOfSource, mountSourceFor } from '../../../src/daemon/mount-owner.js'
import { resolveMountOptions } from '../../../native/fuse/index.js'

describe('mount source of a home', () => {
  it('names the home, escapes what libfuse or the kernel would split, and reads back', () => {
    assert.equal(mountSourceFor('/root/.palm'), 'palm:/root/.palm')
    for (const home of ['/root/.palm', '/tmp/my palm,home', '/home/zoë/%odd', '/a\\b\ttab']) {
      const source = mountSourceFor(home)
      assert.match(source, /^palm:[A-Za-z0-9._@+/%-]+$/, source)
      assert.equal(homeOfSource(source), home)
      assert.equal(resolveMountOptions({ fsname: source }).fsname, source)
    }
    assert.notEqual(mountSourceFor('/tmp/a b'), mountSourceFor('/tmp/a%20b'))
  })

  it('names a very long home by a hash, and plain `palm` or other sources name no home', () => {
    const long = '/x' + '/y'.repeat(800)
    const source = mountSourceFor(long)
    assert.match(source, /^palm:#[0-9a-f]{32}$/)
    assert.equal(source, mountSourceFor(long))
    assert.equal(homeOfSource(source), undefined)
    assert.equal(homeOfSource('palm'), undefined)
    assert.equal(homeOfSource('/dev/sda1'), undefined)
  })
})
