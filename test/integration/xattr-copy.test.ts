/**
 * PALM's computed attributes (user.palm.health, a file's user.palm.policy, a directory's inherited
 * policy) are read by name and never listed, so copy tools that carry xattrs (cp -a, rsync -aX,
 * tar --xattrs) copy none of them out of or into a mount; a policy set on a directory is a real,
 * listed attribute and travels with the tree. Setting user.palm.health is EPERM.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { createPalmHome, skipWithoutFuse, startMount } from '../helpers/palm.js'
import { createTempDir } from '../helpers/tmp.js'

interface Run { code: number, stdout: string, stderr: string }

async function run (cmd: string, args: string[]): Promise<Run> {
  return await new Promise(resolve => {
    execFile(cmd, args, { timeout: 120_000, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : (typeof err.code === 'number' ? err.code : 1), stdout, stderr })
    })
  })
}

async function ok (cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args)
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

/** Every listed xattr name under `root`, by path relative to it ("" is the root). */
async function listedNames (root: string): Promise<Map<string, string[]>> {
  const out = await ok('getfattr', ['-R', '-d', '-m', '-', '--absolute-names', root])
  const names = new Map<string, string[]>()
  let file = ''
  for (const line of out.split('\n')) {
    if (line.startsWith('# file: ')) {
      file = line.slice('# file: '.length).slice(root.length).replace(/^\//, '')
      names.set(file, [])
    } else if (line.includes('=')) {
      names.get(file)?.push(line.slice(0, line.indexOf('=')))
    }
  }
  return names
}

/** The copy of the test tree at `root` carries user.note and the folder's policy, and no computed name. */
async function checkTree (root: string, what: string): Promise<void> {
  const names = await listedNames(root)
  assert.deepEqual(names.get('a.txt'), ['user.note'], `${what}: a.txt`)
  assert.deepEqual(names.get('pol'), ['user.palm.policy'], `${what}: pol/`)
  for (const [path, list] of names) {
    if (path === 'pol') continue
    assert.deepEqual(list.filter(n => n.startsWith('user.palm')), [], `${what}: ${path === '' ? 'the top directory' : path} carries ${list.join(', ')}`)
  }
  assert.equal((await ok('getfattr', ['-n', 'user.palm.policy', '--only-values', join(root, 'pol')])), '2-of-3', `${what}: the folder policy`)
}

it('virtual xattrs are readable by name, never listed, not copied by cp -a, rsync -aX or tar --xattrs', { skip: skipWithoutFuse(), timeout: 10 * 60_000 }, async (t) => {
  const home = await createPalmHome(t)
  const m = await startMount(t, home)
  const local = await createTempDir(t, 'palm-xattr-')
  const src = join(m.mountpoint, 'src')
  await mkdir(join(src, 'pol', 'deep'), { recursive: true })
  await mkdir(join(src, 'sub'))
  await writeFile(join(src, 'a.txt'), 'alpha\n')
  await writeFile(join(src, 'sub', 'c.txt'), 'gamma\n')
  await ok('setfattr', ['-n', 'user.note', '-v', 'kept', join(src, 'a.txt')])
  await ok('setfattr', ['-n', 'user.palm.policy', '-v', '2-of-3', join(src, 'pol')])
  await writeFile(join(src, 'pol', 'b.bin'), Buffer.alloc(100_000, 7))
  await writeFile(join(src, 'pol', 'deep', 'd.bin'), Buffer.alloc(10_000, 9))

  // Readable by name.
  assert.match(await ok('getfattr', ['-n', 'user.palm.health', '--only-values', join(src, 'a.txt')]), /^reachable \d+, needed \d+, total \d+; devices: /)
  assert.equal(await ok('getfattr', ['-n', 'user.palm.policy', '--only-values', join(src, 'pol', 'b.bin')]), '2-of-3')
  assert.equal(await ok('getfattr', ['-n', 'user.palm.policy', '--only-values', join(src, 'pol', 'deep')]), '2-of-3')
  // Listed nowhere but on the folder whose policy was set.
  await checkTree(src, 'the mount')
  // Health is computed: setting it fails with EPERM.
  const set = await run('setfattr', ['-n', 'user.palm.health', '-v', '9/9/9', join(src, 'a.txt')])
  assert.notEqual(set.code, 0)
  assert.match(set.stderr, /Operation not permitted/)

  // Out of the mount.
  await ok('cp', ['-a', src, join(local, 'cp')])
  await checkTree(join(local, 'cp'), 'cp -a out')
  await ok('rsync', ['-aX', `${src}/`, join(local, 'rsync')])
  await checkTree(join(local, 'rsync'), 'rsync -aX out')
  await ok('tar', ['--xattrs', '--xattrs-include=*', '-cf', join(local, 't.tar'), '-C', src, '.'])
  await mkdir(join(local, 'tar'))
  await ok('tar', ['--xattrs', '--xattrs-include=*', '-xf', join(local, 't.tar'), '-C', join(local, 'tar')])
  await checkTree(join(local, 'tar'), 'tar --xattrs out')

  // Into the mount, and within it.
  await ok('rsync', ['-aX', `${join(local, 'rsync')}/`, join(m.mountpoint, 'in-rsync')])
  await checkTree(join(m.mountpoint, 'in-rsync'), 'rsync -aX in')
  await ok('cp', ['-a', join(local, 'cp'), join(m.mountpoint, 'in-cp')])
  await checkTree(join(m.mountpoint, 'in-cp'), 'cp -a in')
  await ok('cp', ['-a', src, join(m.mountpoint, 'within')])
  await checkTree(join(m.mountpoint, 'within'), 'cp -a within')
  // The copied folder's policy applies to files made in it.
  await writeFile(join(m.mountpoint, 'in-rsync', 'pol', 'new.bin'), 'n')
  assert.equal(await ok('getfattr', ['-n', 'user.palm.policy', '--only-values', join(m.mountpoint, 'in-rsync', 'pol', 'new.bin')]), '2-of-3')
})
