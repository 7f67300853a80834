/**
 * Mount lifecycle: unmount with requests in flight, a killed or hung server and the recovery of
 * its stale mount, an unmount from outside, and many processes at once with every request
 * answered exactly once.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { stat, writeFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import pWaitFor from 'p-wait-for'
import { findMount, isStaleMount, recoverStaleMount } from '../../../native/fuse/index.js'
import { fuseSkipReason, runTool, startMemfsMount } from '../../helpers/fuse-mount.js'
import { onCleanup, type Cleanup } from '../../helpers/tmp.js'

const skip = fuseSkipReason()
const WORKER = fileURLToPath(new URL('../../helpers/fuse-load-worker.js', import.meta.url))

async function isFuseMount (dir: string): Promise<boolean> {
  return (await findMount(dir))?.fsType.startsWith('fuse') === true
}

/** Spawns a process, kills it after the test whatever happens, resolves its exit code and stderr. */
function startProcess (t: Cleanup, file: string, args: string[]): Promise<{ code: number | null, stderr: string }> {
  const p = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  onCleanup(t, () => { if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL') })
  let stderr = ''
  p.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  return new Promise(resolve => { p.on('close', code => { resolve({ code, stderr }) }) })
}

describe('FUSE binding: lifecycle', { skip }, () => {
  for (const threads of [0, 2]) {
    it(`unmounts with a request in flight: it gets EIO, late replies are ignored, the server exits (threads ${threads})`, async (t) => {
      const m = await startMemfsMount(t, { mount: { timeoutMs: 0, threads } })
      await writeFile(`${m.dir}/hang-file`, 'data')
      const cat = startProcess(t, 'cat', [`${m.dir}/hang-file`])
      await pWaitFor(async () => (await m.stats()).fs.pendingHangs > 0, { timeout: 10_000 })
      await m.call({ cmd: 'unmount' })
      const r = await cat
      assert.notEqual(r.code, 0)
      assert.match(r.stderr, /Input\/output error|Transport endpoint is not connected/)
      assert.equal(await isFuseMount(m.dir), false)
      await m.call({ cmd: 'release-hangs' }) // the handler settles after the session is gone
      assert.equal((await m.stats()).binding.slotsInUse, 0)
      await m.call({ cmd: 'exit' }).catch(() => {})
      assert.equal(await m.exited, 0)
    })
  }

  it('answers a request that never settles with ETIMEDOUT after timeoutMs', async (t) => {
    const m = await startMemfsMount(t, { mount: { timeoutMs: 1500 } })
    await writeFile(`${m.dir}/hang-slow`, 'data')
    const r = await startProcess(t, 'cat', [`${m.dir}/hang-slow`])
    assert.match(r.stderr, /Connection timed out/)
    assert.ok((await m.stats()).binding.timeouts >= 1)
    await m.call({ cmd: 'release-hangs' })
    await pWaitFor(async () => (await m.stats()).binding.slotsInUse === 0, { timeout: 5000 })
  })

  it('recovers the stale mount of a server killed with SIGKILL', async (t) => {
    const m = await startMemfsMount(t)
    await writeFile(`${m.dir}/x`, 'y')
    m.child.kill('SIGKILL')
    await m.exited
    assert.equal(await isStaleMount(m.dir), true)
    await assert.rejects(stat(`${m.dir}/x`), { code: 'ENOTCONN' })
    await recoverStaleMount(m.dir)
    assert.equal(await isFuseMount(m.dir), false)
    assert.equal(await isStaleMount(m.dir), false)
    assert.ok((await stat(m.dir)).isDirectory())
  })

  it('recovers the mount of a hung server through the connection\'s abort file', async (t) => {
    if (process.getuid?.() !== 0) { t.skip('aborting another connection and umount -l need root here'); return }
    const m = await startMemfsMount(t)
    m.child.kill('SIGSTOP')
    assert.equal(await isStaleMount(m.dir, { timeoutMs: 500 }), true)
    await recoverStaleMount(m.dir)
    assert.equal(await isFuseMount(m.dir), false)
    m.child.kill('SIGKILL')
  })

  it('leaves no mount behind when the serving process exits without unmounting', async (t) => {
    const m = await startMemfsMount(t)
    await writeFile(`${m.dir}/f`, 'x')
    void m.call({ cmd: 'exit-mounted' }).catch(() => {})
    assert.equal(await m.exited, 3)
    assert.equal(await isFuseMount(m.dir), false)
  })

  it('ends the session when the mount is removed from outside', async (t) => {
    const m = await startMemfsMount(t)
    const r = await runTool('fusermount3', ['-u', m.dir])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(await m.exited, 0, 'the server saw the connection end and exited')
    assert.equal(await isFuseMount(m.dir), false)
  })

  for (const threads of [0, 2]) {
    it(`answers every request of several processes exactly once (threads ${threads})`, async (t) => {
      const m = await startMemfsMount(t, { fs: { jitter: true }, mount: { threads } })
      await writeFile(`${m.dir}/shared`, 'shared')
      const workers = [1, 2, 3, 4].map(id => startProcess(t, process.execPath, [WORKER, m.dir, String(id), '25', '4']))
      for (const r of await Promise.all(workers)) assert.equal(r.code, 0, r.stderr)
      await pWaitFor(async () => (await m.stats()).binding.slotsInUse === 0, { timeout: 5000 })
      const s = await m.stats()
      assert.equal(s.binding.replies, s.binding.requests, 'one accepted answer per request')
      assert.equal(s.binding.replyFailures, 0)
      assert.equal(s.binding.staleReplies, 0)
      assert.equal(s.binding.timeouts, 0)
      assert.equal(s.fs.openHandles, 0)
      assert.ok(s.binding.requests > 4 * 4 * 25 * 8, `${s.binding.requests} requests`)
    })
  }
})
