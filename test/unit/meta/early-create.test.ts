/**
 * createEarly: a create answered before its commit. Readers see the node at once (lookup, getattr,
 * readdir); committed() commits it (it may be waiting for company) and resolves once it is on
 * disk; a later call that waits for its own commit means the create is committed too; a create
 * whose commit fails disappears again, committed() says why, and its inode number is never handed
 * out again; and kill -9 keeps every early create whose committed() had resolved.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { describe, it, type TestContext } from 'node:test'
import { createMetaStore, type MetaStoreInit } from '../../../src/meta/index.js'
import { ROOT_INO } from '../../../src/meta/types.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'

const FILE = { type: 'file' as const, mode: 0o644, uid: 0, gid: 0 }
const CHILD = fileURLToPath(new URL('./early-child.js', import.meta.url))

async function openStore (t: TestContext, path: string, extra: Partial<MetaStoreInit> = {}): Promise<ReturnType<typeof createMetaStore>> {
  const s = createMetaStore({ path, deviceId: 'dev-early', ...extra })
  onCleanup(t, async () => { await s.stop() })
  await s.start()
  return s
}

describe('early create', () => {
  it('is visible at once and durable once committed() resolves', async (t) => {
    const path = join(await createTempDir(t), 'j.db')
    const s = await openStore(t, path)
    const d = await s.create(ROOT_INO, 'd', { ...FILE, type: 'dir', mode: 0o755 })
    const { attr, committed } = await s.createEarly(d.ino, 'a', FILE)
    // Readers see it before any commit: lookup, getattr, and a listing (which waits for the commit).
    assert.equal((await s.lookup(d.ino, 'a'))?.ino, attr.ino)
    assert.equal((await s.getattr(attr.ino)).type, 'file')
    assert.deepEqual((await s.readdir(d.ino, 0, 10)).map(e => e.name), ['a'])
    await committed()
    await committed() // idempotent
    await assert.rejects(s.createEarly(d.ino, 'a', FILE), { name: 'ExistsError' })
    // A later call that resolves after its own commit implies the create is committed too.
    const b = await s.createEarly(d.ino, 'b', FILE)
    await s.setContent(b.attr.ino, { size: 0, stripeSize: 4096, stripes: [] })
    await s.stop()
    const again = await openStore(t, path)
    const dd = await again.lookup(ROOT_INO, 'd')
    assert.ok(dd != null)
    assert.deepEqual((await again.readdir(dd.ino, 0, 10)).map(e => e.name).sort(), ['a', 'b'])
    assert.deepEqual((await again.check()).problems, [])
  })

  it('waits a little for company, and commits at once when someone waits', async (t) => {
    const s = await openStore(t, ':memory:')
    const started = performance.now()
    const { attr, committed } = await s.createEarly(ROOT_INO, 'x', FILE)
    // The setContent that follows (a file's close) shares the create's transaction.
    await s.setContent(attr.ino, { size: 0, stripeSize: 4096, stripes: [] })
    await committed()
    const e = await s.createEarly(ROOT_INO, 'y', FILE)
    await e.committed()
    assert.ok(performance.now() - started < 5000)
    assert.equal(s.stats().files, 2)
  })

  it('disappears when its commit fails, and its inode number is not reused', async (t) => {
    const path = join(await createTempDir(t), 'j.db')
    const s = await openStore(t, path, { maxJournalBytes: 256 * 1024 })
    const big = new Uint8Array(60_000).fill(7)
    let failed: { ino: number, err: unknown } | undefined
    const inos: number[] = []
    for (let i = 0; i < 100 && failed == null; i++) {
      const e = await s.createEarly(ROOT_INO, `f${i}`, FILE)
      inos.push(e.attr.ino)
      // The xattr fills the journal; its batch carries the early create (still waiting for
      // company) with it, so both fail together.
      await s.setxattr(e.attr.ino, 'user.big', big).catch(() => {})
      try {
        await e.committed()
      } catch (err) {
        failed = { ino: e.attr.ino, err }
      }
    }
    assert.ok(failed != null, 'the journal filled up')
    assert.equal((failed.err as Error).name, 'NoSpaceError')
    // Gone from every view, and never handed out again.
    await assert.rejects(s.getattr(failed.ino), { name: 'NotFoundError' })
    assert.equal(await s.lookup(ROOT_INO, `f${inos.length - 1}`), undefined)
    const next = await s.create(ROOT_INO, 'later', FILE)
    assert.ok(next.ino > Math.max(...inos), `inode ${next.ino} is new (failed early create was ${failed.ino})`)
    assert.deepEqual((await s.check()).problems, [])
  })

  it('keeps every early create whose committed() resolved after kill -9', async (t) => {
    const path = join(await createTempDir(t, 'palm-early-crash-'), 'journal.db')
    const child = spawn(process.execPath, [CHILD, path], { stdio: ['ignore', 'pipe', 'inherit'] })
    onCleanup(t, () => { if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL') })
    const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
    const done: string[] = []
    const target = 200 + Math.floor(Math.random() * 200)
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code, signal) => { reject(new Error(`early child exited early (${String(code ?? signal)})`)) })
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line === 'READY') return
        done.push(line)
        if (done.length === target) { child.kill('SIGKILL'); resolve() }
      })
    })
    await exited
    const s = await openStore(t, path)
    for (const name of done) assert.ok(await s.lookup(ROOT_INO, name) != null, `${name} (committed before the kill) survived`)
    assert.deepEqual((await s.check()).problems, [])
  })
})
