/**
 * What the kernel does on top of PALM's answers, through a real mount: mmap reads and writes go
 * through the page cache (no direct_io) and reach the file; with --allow-other, default_permissions
 * makes the kernel enforce modes for other users; df shows the capacity divided by the n/k overhead.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmod, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { createPalmHome, palm, skipWithoutFuse, startMount } from '../helpers/palm.js'

async function run (cmd: string, args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : (typeof err.code === 'number' ? err.code : 1), stdout, stderr })
    })
  })
}

const MMAP_PY = `
import mmap, os, sys
path = sys.argv[1]
with open(path, 'r+b') as f:
    m = mmap.mmap(f.fileno(), 0)
    assert m[:5] == b'hello', m[:5]
    m[0:5] = b'HELLO'
    m[4096 * 3:4096 * 3 + 4] = b'page'
    m.flush()
    m.close()
print('done')
`

it('mmap reads and writes reach the file through the page cache', { skip: skipWithoutFuse(), timeout: 120_000 }, async (t) => {
  const home = await createPalmHome(t)
  const m = await startMount(t, home)
  const file = join(m.mountpoint, 'mapped.bin')
  const data = Buffer.alloc(5 * 2 ** 20, 0x2e)
  data.write('hello', 0)
  await writeFile(file, data)
  const r = await run('python3', ['-c', MMAP_PY, file])
  assert.equal(r.code, 0, r.stderr)
  const back = await readFile(file)
  assert.equal(back.subarray(0, 5).toString(), 'HELLO')
  assert.equal(back.subarray(4096 * 3, 4096 * 3 + 4).toString(), 'page')
  assert.equal(back.length, data.length)
  // And after the daemon restarts (nothing cached anywhere), the stored file has the mmap writes.
  assert.equal(await m.stop(), 0)
  const again = await startMount(t, home, { mountpoint: m.mountpoint })
  const stored = await readFile(join(again.mountpoint, 'mapped.bin'))
  assert.equal(stored.subarray(0, 5).toString(), 'HELLO')
  assert.equal(stored.subarray(4096 * 3, 4096 * 3 + 4).toString(), 'page')
})

it('with --allow-other the kernel enforces modes for other users (default_permissions)', { skip: skipWithoutFuse() || (process.getuid?.() !== 0 ? 'needs root to act as another user' : false), timeout: 120_000 }, async (t) => {
  const home = await createPalmHome(t)
  const m = await startMount(t, home, { args: ['--allow-other'] })
  await chmod(join(m.mountpoint, '..'), 0o755) // the temp dir is 0700: let others reach the mount
  await chmod(m.mountpoint, 0o755)
  await writeFile(join(m.mountpoint, 'public.txt'), 'for all\n', { mode: 0o644 })
  await writeFile(join(m.mountpoint, 'secret.txt'), 'root only\n', { mode: 0o600 })
  await chmod(join(m.mountpoint, 'public.txt'), 0o644)
  await chmod(join(m.mountpoint, 'secret.txt'), 0o600)
  const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups']
  const pub = await run('setpriv', [...asNobody, 'cat', join(m.mountpoint, 'public.txt')])
  assert.equal(pub.code, 0, pub.stderr)
  assert.equal(pub.stdout, 'for all\n')
  const sec = await run('setpriv', [...asNobody, 'cat', join(m.mountpoint, 'secret.txt')])
  assert.notEqual(sec.code, 0)
  assert.match(sec.stderr, /Permission denied/)
  const write = await run('setpriv', [...asNobody, 'touch', join(m.mountpoint, 'nobody-was-here')])
  assert.notEqual(write.code, 0, 'a directory of mode 0755 owned by root is not writable by others')
})

it('df shows the store capacity divided by the n/k overhead', { skip: skipWithoutFuse(), timeout: 60_000 }, async (t) => {
  const home = await createPalmHome(t, ['--capacity', '6G'])
  const m = await startMount(t, home)
  const r = await run('df', ['-B1', '--output=size,avail', m.mountpoint])
  assert.equal(r.code, 0, r.stderr)
  const [size] = r.stdout.trim().split('\n')[1].trim().split(/\s+/).map(Number)
  // 6 GiB offered at 4-of-6: 4 GiB usable, in 4 KiB blocks.
  assert.ok(Math.abs(size - 4 * 2 ** 30) <= 4096, `df size ${size}`)
  const s = JSON.parse((await palm(['status', '--home', home, '--json'])).stdout)
  assert.ok(Math.abs(s.usableCapacityBytes - 4 * 2 ** 30) <= 4096)
})
