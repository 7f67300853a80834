/**
 * The binding's pure helpers and its boundary checks: dirent sizes, mountinfo parsing, option
 * validation, the addon's op table, and the errors that name the missing Debian package.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { describe, it } from 'node:test'
import { OP } from '../../../native/fuse/constants.js'
import {
  checkFuseSystem, direntSize, isStaleMount, loadFuseAddon, parseMountinfo, recoverStaleMount, resolveMountOptions, unmountPath
} from '../../../native/fuse/index.js'
import { addonCandidates } from '../../../native/fuse/load.js'
import { fuseArgs } from '../../../native/fuse/session.js'
import { createTempDir } from '../../helpers/tmp.js'

describe('FUSE binding helpers', () => {
  it('sizes dirents as the kernel packs them (header + UTF-8 name, 8-byte aligned)', () => {
    assert.equal(direntSize('a', false), 32)
    assert.equal(direntSize('abcdefgh', false), 32)
    assert.equal(direntSize('abcdefghi', false), 40)
    assert.equal(direntSize('é', false), 32)
    assert.equal(direntSize('a', true), 160)
    assert.equal(direntSize('x'.repeat(255), true), 408)
  })

  it('parses mountinfo, including escaped spaces', () => {
    const text = [
      '43 27 0:39 / /tmp/my\\040mnt rw,nosuid,nodev,relatime - fuse.palm palm rw,user_id=0,group_id=0,default_permissions',
      '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
      'garbage line'
    ].join('\n')
    const m = parseMountinfo(text)
    assert.equal(m.length, 2)
    assert.deepEqual({ mp: m[0].mountPoint, type: m[0].fsType, minor: m[0].minor, src: m[0].source }, { mp: '/tmp/my mnt', type: 'fuse.palm', minor: 39, src: 'palm' })
  })

  it('validates mount options and builds libfuse arguments', () => {
    const r = resolveMountOptions()
    assert.equal(r.maxWriteBytes, 1024 * 1024)
    assert.equal(r.ioSizeBytes, 1024 * 1024)
    assert.deepEqual(fuseArgs(r, true), ['palm', '-o', 'fsname=palm,subtype=palm,default_permissions,allow_other'])
    assert.throws(() => resolveMountOptions({ fsname: 'a,b' }), { name: 'InvalidArgumentError', code: 'EINVAL' })
    assert.throws(() => resolveMountOptions({ maxWriteBytes: 2 * 1024 * 1024 }), { name: 'InvalidArgumentError' })
    assert.throws(() => resolveMountOptions({ threads: -1 }), { name: 'InvalidArgumentError' })
  })

  it('names the Debian packages when the addon is missing', () => {
    assert.throws(() => loadFuseAddon(['/nonexistent/palm_fuse.node']), (err: Error & { code?: string }) => {
      assert.equal(err.name, 'NotSupportedError')
      assert.equal(err.code, 'EOPNOTSUPP')
      assert.match(err.message, /libfuse3-dev/)
      return true
    })
    const check = checkFuseSystem(['/nonexistent/palm_fuse.node'])
    assert.equal(check.ok, false)
    assert.ok(check.problems.some(p => p.includes('libfuse3-dev')), check.problems.join('; '))
  })

  it('agrees with the compiled addon on op codes and layout', { skip: addonCandidates().some(p => existsSync(p)) ? false : 'addon not built' }, () => {
    const codes = loadFuseAddon().opCodes()
    for (const [name, code] of Object.entries(OP)) assert.equal(codes[name], code, name)
    assert.equal(codes.IN_LEN, 20)
    assert.equal(codes.OUT_LEN, 24)
    assert.equal(codes.DIRENT_STRIDE, 21)
    assert.match(loadFuseAddon().libfuseVersion(), /^3\./)
  })

  it('treats a plain directory as neither mounted nor stale', async (t) => {
    const dir = await createTempDir(t)
    assert.equal(await isStaleMount(dir), false)
    await recoverStaleMount(dir)
    await unmountPath(dir)
  })
})
