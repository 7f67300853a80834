/**
 * kill -9 of a process in the middle of a put workload loses nothing whose put had returned: after
 * a restart every reported fragment reads back verified, no temp file is left, and new puts work.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { parseCid } from '../../../src/util/cid.js'
import { randomFragment } from '../../compliance/fragment-store-tests.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'
import { createStore } from './fs-helpers.js'

const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url))

describe('file store crash', () => {
  it('keeps every fragment whose put returned when the process is killed mid-write', async t => {
    const path = join(await createTempDir(t, 'palm-crash-'), 'store')
    const child = spawn(process.execPath, [CHILD, path], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
    onCleanup(t, async () => { if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL'); await exited })
    let out = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => { out += chunk })
    // Let it write for a while: until 3000 puts are reported (or 20 s), then kill it without warning.
    const deadline = Date.now() + 20_000
    while (out.split('\n').length < 3000 && Date.now() < deadline && child.exitCode == null) {
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    child.kill('SIGKILL')
    await exited
    const lines = out.split('\n')
    assert.equal(lines[0], 'READY')
    // The last line may be cut short by the kill; only whole lines count as reported.
    const reported = lines.slice(1, -1)
    assert.ok(reported.length > 100, `the child reported ${reported.length} puts`)
    const store = await createStore(t, { path, packThresholdBytes: 64 * 1024, segmentBytes: 256 * 1024 })
    assert.deepEqual(await readdir(join(path, 'tmp')), [])
    for (const text of reported) await store.get(parseCid(text))
    assert.ok(store.usage().fragmentCount >= new Set(reported).size)
    const f = randomFragment(3000)
    await store.put(f.cid, f.bytes)
    assert.deepEqual(new Uint8Array(await store.get(f.cid)), f.bytes)
  })
})
