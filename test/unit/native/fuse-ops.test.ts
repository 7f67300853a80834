/**
 * The remaining ops through real tools: xattrs (size probe, ERANGE, create/replace flags),
 * symlinks, fifos, statfs, fallocate, chmod, renameat2 flags, and cache invalidation pushed by
 * the file system (notifyInvalInode / notifyInvalEntry).
 */
import assert from 'node:assert/strict'
import { chmod, mkdir, open, readdir, readFile, readlink, rmdir, stat, symlink, writeFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import pWaitFor from 'p-wait-for'
import { findExecutable } from '../../../native/fuse/system.js'
import { fuseSkipReason, runTool, startMemfsMount } from '../../helpers/fuse-mount.js'
import { createTempDir } from '../../helpers/tmp.js'

const skip = fuseSkipReason()
// the C source sits next to the compiled helpers' sources, in test/helpers/
const RENAMEAT2_C = fileURLToPath(new URL('../../../../test/helpers/renameat2.c', import.meta.url))

describe('FUSE binding: other ops', { skip }, () => {
  it('stores xattrs, answers size probes, ERANGE and the create/replace flags', async (t) => {
    if (findExecutable('setfattr') == null) { t.skip('attr (setfattr/getfattr) is not installed'); return }
    const m = await startMemfsMount(t)
    const f = `${m.dir}/x`
    await writeFile(f, '')
    assert.equal((await runTool('setfattr', ['-n', 'user.palm.a', '-v', '0x' + 'ab'.repeat(3000), f])).code, 0)
    assert.equal((await runTool('setfattr', ['-n', 'user.palm.b', '-v', 'two', f])).code, 0)
    const dump = await runTool('getfattr', ['-d', '-e', 'hex', f])
    assert.equal(dump.code, 0, dump.stderr)
    assert.match(dump.stdout, new RegExp(`user.palm.a=0x${'ab'.repeat(3000)}`))
    assert.match(dump.stdout, /user\.palm\.b=0x74776f/)
    const missing = await runTool('getfattr', ['-n', 'user.palm.none', f])
    assert.match(missing.stderr, /No such attribute/)
    assert.equal((await runTool('setfattr', ['-x', 'user.palm.b', f])).code, 0)
    assert.doesNotMatch((await runTool('getfattr', ['-d', f])).stdout, /palm\.b/)
  })

  it('makes symlinks, fifos and directories; chmod, statfs and fallocate', async (t) => {
    const m = await startMemfsMount(t)
    await writeFile(`${m.dir}/target`, 'data')
    await symlink('target', `${m.dir}/link`)
    assert.equal(await readlink(`${m.dir}/link`), 'target')
    assert.equal(await readFile(`${m.dir}/link`, 'utf8'), 'data')
    assert.equal((await runTool('mkfifo', [`${m.dir}/fifo`])).code, 0)
    assert.ok((await stat(`${m.dir}/fifo`)).isFIFO())
    await mkdir(`${m.dir}/d/e`, { recursive: true })
    assert.equal((await stat(`${m.dir}/d`)).nlink, 3)
    await assert.rejects(rmdir(`${m.dir}/d`), { code: 'ENOTEMPTY' })
    await chmod(`${m.dir}/target`, 0o600)
    assert.equal((await stat(`${m.dir}/target`)).mode & 0o7777, 0o600)
    const df = await runTool('stat', ['-f', '-c', '%S %b %l', m.dir])
    assert.equal(df.stdout.trim(), `4096 ${1 << 24} 255`)
    assert.equal((await runTool('fallocate', ['-l', '3M', `${m.dir}/alloc`])).code, 0)
    assert.equal((await stat(`${m.dir}/alloc`)).size, 3 * 1024 * 1024)
  })

  it('passes renameat2 flags: RENAME_NOREPLACE refuses, RENAME_EXCHANGE swaps', async (t) => {
    if (findExecutable('cc') == null) { t.skip('no C compiler for the renameat2 helper'); return }
    const bin = `${await createTempDir(t, 'palm-r2-')}/renameat2`
    const cc = await runTool('cc', ['-O2', '-o', bin, RENAMEAT2_C])
    assert.equal(cc.code, 0, cc.stderr)
    const m = await startMemfsMount(t)
    await writeFile(`${m.dir}/a`, 'A')
    await writeFile(`${m.dir}/b`, 'B')
    const refused = await runTool(bin, ['noreplace', `${m.dir}/a`, `${m.dir}/b`])
    assert.equal(refused.stderr.trim(), 'EEXIST')
    const swapped = await runTool(bin, ['exchange', `${m.dir}/a`, `${m.dir}/b`])
    assert.equal(swapped.code, 0, swapped.stderr)
    assert.equal(await readFile(`${m.dir}/a`, 'utf8'), 'B')
    assert.equal(await readFile(`${m.dir}/b`, 'utf8'), 'A')
    assert.equal((await runTool(bin, ['noreplace', `${m.dir}/a`, `${m.dir}/c`])).code, 0)
    assert.deepEqual((await readdir(m.dir)).sort(), ['b', 'c'])
  })

  it('leaves optional ops the file system lacks to the kernel', async (t) => {
    const m = await startMemfsMount(t, { fs: { without: ['flush', 'fsync', 'setxattr', 'getxattr', 'listxattr', 'removexattr', 'fallocate'] } })
    const fh = await open(`${m.dir}/f`, 'w+')
    await fh.write('kept')
    await fh.sync() // no fsync op: the kernel answers success itself
    await fh.close() // no flush op: close costs no round trip
    assert.equal(await readFile(`${m.dir}/f`, 'utf8'), 'kept')
    if (findExecutable('getfattr') != null) {
      assert.match((await runTool('getfattr', ['-d', `${m.dir}/f`])).stderr + (await runTool('setfattr', ['-n', 'user.a', '-v', '1', `${m.dir}/f`])).stderr, /Operation not supported/)
    }
    assert.notEqual((await runTool('fallocate', ['-l', '1M', `${m.dir}/f`])).code, 0)
  })

  it('drops cached attributes and names when the file system says so', async (t) => {
    const m = await startMemfsMount(t, { mount: { attrTimeoutSec: 3600, entryTimeoutSec: 3600 } })
    await writeFile(`${m.dir}/f`, 'abc')
    assert.equal((await stat(`${m.dir}/f`)).size, 3)
    await m.call({ cmd: 'server-truncate', name: 'f', size: 10 })
    assert.equal((await stat(`${m.dir}/f`)).size, 3, 'the kernel still serves its cached size')
    await m.call({ cmd: 'notify-inode', name: 'f' })
    await pWaitFor(async () => (await stat(`${m.dir}/f`)).size === 10, { timeout: 5000 })
    await m.call({ cmd: 'server-unlink', name: 'f' })
    assert.equal((await stat(`${m.dir}/f`)).size, 10, 'the kernel still serves its cached name')
    await m.call({ cmd: 'notify-entry', name: 'f' })
    await pWaitFor(async () => await stat(`${m.dir}/f`).then(() => false, () => true), { timeout: 5000 })
  })
})
