/**
 * `palm info PATH`: a file's stripes, each fragment's CID and holders, and its health, in text and
 * JSON; `palm get CID` takes a CID it printed (and ends quietly when its reader closes the pipe).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { CID } from 'multiformats/cid'
import { digestFor } from '../../src/util/digest.js'
import { createPalmHome, PALM_BIN, palm, skipWithoutFuse, startMount, testEnv } from '../helpers/palm.js'

const MiB = 2 ** 20

/** Runs `palm ARGS | head -c BYTES`: palm's exit code, its stderr and how many bytes head passed on. */
async function pipeToHead (args: string[], bytes: number): Promise<{ palmCode: number, stderr: string, bytes: number }> {
  return await new Promise((resolve, reject) => {
    const quoted = args.map(a => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
    // palm's stdout into head, palm's stderr into ours, its exit code from PIPESTATUS as the last stderr line.
    const child = spawn('bash', ['-c', `"$NODE" "$PALM" ${quoted} | head -c ${bytes} | wc -c; echo "\${PIPESTATUS[0]}" >&2`],
      { env: { ...testEnv(), NODE: process.execPath, PALM: PALM_BIN }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.on('error', reject)
    child.on('close', () => {
      const lines = err.trimEnd().split('\n')
      resolve({ bytes: Number(out.trim()), palmCode: Number(lines.at(-1)), stderr: lines.slice(0, -1).join('\n') })
    })
  })
}

it('info lists each stripe\'s fragment CIDs and holders; get takes one, and a closed pipe ends it quietly', { skip: skipWithoutFuse(), timeout: 180_000 }, async (t) => {
  const home = await createPalmHome(t)
  const m = await startMount(t, home)
  const data = randomBytes(5 * MiB)
  await writeFile(join(m.mountpoint, 'big.bin'), data)

  const r = await palm(['info', join(m.mountpoint, 'big.bin'), '--home', home, '--json'])
  assert.equal(r.code, 0, r.stderr)
  const info = JSON.parse(r.stdout)
  assert.deepEqual(Object.keys(info).sort(), ['health', 'path', 'policy', 'size', 'stripes', 'type'])
  assert.equal(info.path, '/big.bin')
  assert.equal(info.size, 5 * MiB)
  assert.equal(info.policy, '4-of-6')
  assert.equal(info.health.text, 'reachable 6, needed 4, total 6; devices: test-device')
  assert.equal(info.stripes.length, 2, 'a 5 MiB file has two 4 MiB stripes')
  for (const [i, s] of info.stripes.entries()) {
    assert.equal(s.index, i)
    assert.equal(s.fragments.length, 6)
    for (const [j, f] of s.fragments.entries()) {
      assert.equal(f.index, j)
      assert.equal(CID.parse(f.cid).toString(), f.cid)
      assert.deepEqual(f.holders.map((h: any) => [h.name, h.self, h.online]), [['test-device', true, true]])
    }
  }
  // The health xattr says the same, with its labels.
  const text = await palm(['info', 'big.bin', '--home', home])
  assert.equal(text.code, 0, text.stderr)
  assert.match(text.stdout, /^\/big\.bin\n {2}type {5}file\n {2}size {5}5\.00 MiB \(5242880 bytes\)\n {2}policy {3}4-of-6 .*\n {2}health {3}reachable 6, needed 4, total 6; devices: test-device\n {2}stripes {2}2\n/)
  assert.ok(text.stdout.includes(info.stripes[1].fragments[5].cid))

  // `palm get` of a printed CID returns bytes whose hash (the one the CID names) is its digest.
  const cid = info.stripes[0].fragments[0].cid as string
  const got = await new Promise<Buffer>((resolve, reject) => {
    const child = spawn(process.execPath, [PALM_BIN, 'get', cid, '--home', home], { env: testEnv(), stdio: ['ignore', 'pipe', 'inherit'] })
    const chunks: Buffer[] = []
    child.stdout.on('data', (d: Buffer) => chunks.push(d))
    child.on('error', reject)
    child.on('close', code => { code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`palm get exited ${String(code)}`)) })
  })
  assert.ok(got.length > MiB / 2, `a fragment of a 4 MiB stripe at 4-of-6 is about 1 MiB (got ${got.length})`)
  const mh = CID.parse(cid).multihash
  assert.deepEqual(Buffer.from(digestFor(mh.code, got)), Buffer.from(mh.digest))

  // Into a pipe closed after 10 bytes: no EPIPE stack, exit 0.
  const piped = await pipeToHead(['get', cid, '--home', home], 10)
  assert.deepEqual(piped, { palmCode: 0, stderr: '', bytes: 10 })

  const missing = await palm(['info', 'nope.txt', '--home', home])
  assert.equal(missing.code, 1)
  assert.equal(missing.stderr, 'palm: no file /nope.txt in the PALM folder; `ls` the mount to see what is there\n')
  const outside = await palm(['info', '/etc/hostname', '--home', home])
  assert.equal(outside.code, 1)
  assert.equal(outside.stderr, `palm: /etc/hostname is not inside the PALM folder (${m.mountpoint}); give a path in it, or one relative to its root such as docs/a.txt\n`)
})
