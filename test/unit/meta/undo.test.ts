/**
 * Undo records as stored (undo.ts): inodes as arrays (their field names are most of a create's
 * undo bytes otherwise), read back to the same records, and records logged in the object form
 * before still read; an inode the op left in place as the fields it changed.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ABSENT } from '../../../src/meta/cache.js'
import type { InodeRec } from '../../../src/meta/records.js'
import { decodeUndo, encodeUndo, InodeDelta } from '../../../src/meta/undo.js'

const DIR: InodeRec = { ino: 2, node: '1@dev-a', type: 'dir', mode: 0o755, uid: 0, gid: 0, nlink: 2, size: 0, rdev: 0, atimeNs: 1n, mtimeNs: -2n, ctimeNs: 1796577014975681658n, parent: 1, entries: 3, stripeSize: 0 }

describe('undo records', () => {
  it('stores inodes as arrays and reads back the same records, with and without target and version', () => {
    const link: InodeRec = { ...DIR, ino: 3, type: 'symlink', target: '../x', parent: 0, entries: 0 }
    const file: InodeRec = { ...DIR, ino: 4, type: 'file', ver: '7@dev-a', parent: 0, entries: 0, size: 2 ** 40, stripeSize: 1 << 20 }
    const both: InodeRec = { ...link, ino: 5, target: '', ver: '8@dev-a' }
    const undo = { priors: [['i2', DIR], ['i3', link], ['i4', file], ['i5', both], ['i6', ABSENT], ['n1@dev-a', 2]] as Array<[string, InodeRec | number | typeof ABSENT]>, files: 1, dirs: -1, bytes: 5 }
    const text = encodeUndo(undo)
    assert.ok(!text.includes('"mtimeNs"'), text)
    assert.deepEqual(decodeUndo(text), undo)
  })

  it('reads inodes of records logged in the object form', () => {
    const text = '{"p":[["i2",{"ino":2,"node":"1@dev-a","type":"dir","mode":493,"uid":0,"gid":0,"nlink":2,"size":0,"rdev":0,"atimeNs":"1","mtimeNs":"-2","ctimeNs":"1796577014975681658","parent":1,"entries":3,"stripeSize":0}],["d2/f",null]],"f":1,"d":0,"b":0}'
    assert.deepEqual(decodeUndo(text), { priors: [['i2', DIR], ['d2/f', ABSENT]], files: 1, dirs: 0, bytes: 0 })
  })

  it('stores an inode the op changed in place as its changed fields, which give back the record before it', () => {
    const link: InodeRec = { ...DIR, ino: 3, type: 'symlink', target: '../x', parent: 0, entries: 0 }
    // A create in DIR: its times and entry count change. The link gains a version and loses its target.
    const dirAfter: InodeRec = { ...DIR, mtimeNs: 5n, ctimeNs: 5n, entries: 4 }
    const linkAfter: InodeRec = { ...link, ver: '9@dev-a', target: undefined, nlink: 1 }
    delete (linkAfter as { target?: string }).target
    const undo = { priors: [['i2', DIR], ['i3', link], ['i7', ABSENT]] as Array<[string, InodeRec | typeof ABSENT]>, files: 1, dirs: 0, bytes: 0 }
    const after = new Map<string, InodeRec>([['i2', dirAfter], ['i3', linkAfter], ['i7', { ...DIR, ino: 7, node: '2@dev-a' }]])
    const text = encodeUndo(undo, after)
    assert.ok(!text.includes('"1@dev-a"'), `the whole directory record was stored: ${text}`)
    const read = decodeUndo(text)
    const [dirDelta, linkDelta] = [read.priors[0][1], read.priors[1][1]]
    assert.ok(dirDelta instanceof InodeDelta && linkDelta instanceof InodeDelta)
    assert.deepEqual(dirDelta.before(dirAfter), DIR)
    assert.deepEqual(linkDelta.before(linkAfter), link)
    assert.deepEqual(read.priors[2], ['i7', ABSENT])
    // A different inode under the key now (never the case for an undo in reverse order): stored whole.
    assert.deepEqual(decodeUndo(encodeUndo(undo, new Map([['i2', { ...dirAfter, node: '3@dev-a' }]]))).priors[0], ['i2', DIR])
  })
})
