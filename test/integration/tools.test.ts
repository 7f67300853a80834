/**
 * Real tools on a real mount: cp -a, rsync -a and tar round trips of a generated tree of a few
 * thousand files (verified by sha256 and metadata), git init/commit/clone, an SQLite database, and
 * concurrent writers from several processes.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { lstat, mkdir, readdir, readFile, readlink, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createPalmHome, palm, skipWithoutFuse, startMount, type MountedDaemon } from '../helpers/palm.js'
import { CleanupScope } from '../helpers/scope.js'
import { createTempDir } from '../helpers/tmp.js'
import { prng } from '../helpers/prng.js'

/** Runs a tool to completion; the bound (15 min) only stops a hang: the tools run at once, on a loaded machine. */
async function sh (cmd: string, args: string[], options: { cwd?: string, timeoutMs?: number, env?: Record<string, string> } = {}): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: options.cwd, timeout: options.timeoutMs ?? 900_000, maxBuffer: 64 << 20, env: { ...process.env, ...options.env } }, (err, stdout, stderr) => {
      if (err != null) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`))
      else resolve(stdout)
    })
  })
}

/** A tree of `files` files (sizes from 0 to ~1.5 MiB, mostly small) in nested folders, plus symlinks. */
async function generateTree (root: string, files: number, seed: number): Promise<void> {
  const rand = prng(seed)
  const dirs = [root]
  for (let i = 0; i < files / 25; i++) {
    const d = join(dirs[Math.floor(rand() * dirs.length)], `dir-${i}`)
    await mkdir(d)
    dirs.push(d)
  }
  for (let i = 0; i < files; i++) {
    const r = rand()
    const size = r < 0.1 ? 0 : r < 0.9 ? Math.floor(rand() * 8192) : Math.floor(rand() * 1.5 * 2 ** 20)
    const data = Buffer.alloc(size)
    for (let j = 0; j < size; j += 4) data.writeUInt32LE((rand() * 2 ** 32) >>> 0, Math.min(j, Math.max(0, size - 4)))
    const file = join(dirs[Math.floor(rand() * dirs.length)], `file-${i}.bin`)
    await writeFile(file, data, { mode: rand() < 0.2 ? 0o755 : 0o644 })
    await utimes(file, 1_600_000_000 + i, 1_500_000_000 + i)
  }
  for (let i = 0; i < 20; i++) await symlink(`../file-${i}.bin`, join(dirs[1 + (i % (dirs.length - 1))], `link-${i}`))
}

/** Path → "type mode size mtime sha|target" for every entry under `root`. */
async function manifest (root: string, dir = root, out = new Map<string, string>()): Promise<Map<string, string>> {
  for (const name of (await readdir(dir)).sort()) {
    const p = join(dir, name)
    const rel = p.slice(root.length)
    const st = await lstat(p)
    if (st.isDirectory()) {
      out.set(rel, `dir ${(st.mode & 0o7777).toString(8)}`)
      await manifest(root, p, out)
    } else if (st.isSymbolicLink()) {
      out.set(rel, `link ${await readlink(p)}`)
    } else {
      out.set(rel, `file ${(st.mode & 0o7777).toString(8)} ${st.size} ${Math.floor(st.mtimeMs)} ${createHash('sha256').update(await readFile(p)).digest('hex')}`)
    }
  }
  return out
}

describe('tools on a real mount', { skip: skipWithoutFuse(), timeout: 30 * 60_000 }, () => {
  const scope = new CleanupScope()
  let m: MountedDaemon
  let local: string
  let source: string
  let want: Map<string, string>

  before(async () => {
    const home = await createPalmHome(scope)
    m = await startMount(scope, home)
    local = await createTempDir(scope, 'palm-tools-')
    source = join(local, 'src')
    await mkdir(source)
    await generateTree(source, 2500, 7)
    want = await manifest(source)
  })
  after(async () => { await scope.close() })

  // The round trips and the database use folders and files of their own, on the mount and here:
  // they run at once (one mount serving several programs, as for its users); fsck checks after them all.
  describe('each tool, all at once', { concurrency: true }, () => {
    it('cp -a round trip keeps content, modes, times and links', async () => {
      await sh('cp', ['-a', source, join(m.mountpoint, 'cp')])
      assert.deepEqual(await manifest(join(m.mountpoint, 'cp')), want)
      await sh('cp', ['-a', join(m.mountpoint, 'cp'), join(local, 'cp-back')])
      assert.deepEqual(await manifest(join(local, 'cp-back')), want)
    })

    it('rsync -a round trip, and a second rsync finds nothing to do', async () => {
      await sh('rsync', ['-a', `${source}/`, join(m.mountpoint, 'rsync')])
      assert.deepEqual(await manifest(join(m.mountpoint, 'rsync')), want)
      const again = await sh('rsync', ['-a', '--itemize-changes', `${source}/`, join(m.mountpoint, 'rsync')])
      assert.equal(again.trim(), '', `second rsync changed: ${again.slice(0, 500)}`)
      await sh('rsync', ['-a', `${join(m.mountpoint, 'rsync')}/`, join(local, 'rsync-back')])
      assert.deepEqual(await manifest(join(local, 'rsync-back')), want)
    })

    it('tar c | tar x round trip', async () => {
      await sh('tar', ['-cf', join(local, 'tree.tar'), '-C', source, '.'])
      await mkdir(join(m.mountpoint, 'tar'))
      await sh('tar', ['-xf', join(local, 'tree.tar'), '-C', join(m.mountpoint, 'tar')])
      assert.deepEqual(await manifest(join(m.mountpoint, 'tar')), want)
      await sh('tar', ['-cf', join(m.mountpoint, 'tree-again.tar'), '-C', join(m.mountpoint, 'tar'), '.'])
      await mkdir(join(local, 'tar-back'))
      await sh('tar', ['-xf', join(m.mountpoint, 'tree-again.tar'), '-C', join(local, 'tar-back')])
      assert.deepEqual(await manifest(join(local, 'tar-back')), want)
    })

    it('git init, commit, clone, log and fsck on the mount', async () => {
      const env = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.invalid' }
      const repo = join(m.mountpoint, 'repo')
      await sh('git', ['init', '-q', repo], { env })
      await sh('cp', ['-a', join(source, '.'), repo])
      await sh('git', ['add', '-A'], { cwd: repo, env })
      await sh('git', ['commit', '-q', '-m', 'first'], { cwd: repo, env })
      await writeFile(join(repo, 'README'), 'first\n')
      await sh('git', ['add', 'README'], { cwd: repo, env })
      await sh('git', ['commit', '-q', '-m', 'second'], { cwd: repo, env })
      await writeFile(join(repo, 'README'), 'changed\n')
      await sh('git', ['commit', '-q', '-am', 'third'], { cwd: repo, env })
      await sh('git', ['fsck', '--full', '--strict'], { cwd: repo, env })
      await sh('git', ['gc', '-q'], { cwd: repo, env })
      await sh('git', ['clone', '-q', repo, join(m.mountpoint, 'clone')], { env })
      assert.equal((await sh('git', ['log', '--oneline'], { cwd: join(m.mountpoint, 'clone'), env })).trim().split('\n').length, 3)
      await sh('git', ['clone', '-q', repo, join(local, 'clone')], { env })
      assert.equal(await readFile(join(local, 'clone', 'README'), 'utf8'), 'changed\n')
      assert.equal((await sh('git', ['status', '--porcelain'], { cwd: repo, env })).trim(), '')
    })

    it('hosts an SQLite database (WAL, transactions, integrity check)', async () => {
      const sqlite3 = (await import('sqlite3')).default
      const file = join(m.mountpoint, 'db.sqlite')
      const db = new sqlite3.Database(file)
      const run = async (sql: string, params: unknown[] = []): Promise<void> => { await new Promise<void>((resolve, reject) => { db.run(sql, params, (err) => { err == null ? resolve() : reject(err) }) }) }
      const get = async (sql: string): Promise<any> => await new Promise((resolve, reject) => { db.get(sql, (err, row) => { err == null ? resolve(row) : reject(err) }) })
      try {
        await run('PRAGMA journal_mode=WAL')
        await run('CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)')
        for (let batch = 0; batch < 20; batch++) {
          await run('BEGIN')
          for (let i = 0; i < 200; i++) await run('INSERT INTO t (v) VALUES (?)', [Buffer.alloc(300, batch + i)])
          await run('COMMIT')
        }
        await run('DELETE FROM t WHERE id % 3 = 0')
        await run('VACUUM')
        assert.equal((await get('SELECT count(*) AS n FROM t')).n, 4000 - Math.floor(4000 / 3))
        assert.equal((await get('PRAGMA integrity_check')).integrity_check, 'ok')
      } finally {
        await new Promise<void>(resolve => { db.close(() => { resolve() }) })
      }
    })
  })

  it('keeps everything consistent: palm fsck is clean', async () => {
    // 11,000+ stripes after git, rsync and tar: about 50 s alone on two cores, more beside the LAN lane.
    const r = await palm(['fsck', '--home', m.home], { timeoutMs: 300_000 })
    assert.equal(r.code, 0, r.stdout + r.stderr)
  })
})
