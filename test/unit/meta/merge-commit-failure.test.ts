/**
 * A merge whose commit breaks a constraint of the journal's tables is a merge bug: it fails the same
 * way on every retry. The namespace LAN test once hit one (UNIQUE constraint failed: inodes.node on a
 * late joiner) and the journal turned read-only for good. Now the log names the constraint and the
 * op that wrote the row at fault, the merge's ops are refused, and the journal stays writable. The
 * clash is real: a row holding the node id that the remote create gives its file, put in the
 * database file beside the running journal.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { it } from 'node:test'
import { Db } from '../../../src/meta/db.js'
import { createMetaStore } from '../../../src/meta/index.js'
import { ROOT_INO } from '../../../src/meta/types.js'
import { testSigner } from '../../compliance/meta-store-tests.js'
import { errorLogger } from '../../helpers/error-log.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'
import { FILE, stripe } from './merge-helpers.js'

it('names the op and the constraint when a merge cannot be committed, and stays writable', async (t) => {
  const dir = await createTempDir(t, 'palm-merge-fail-')
  const { logger, errors } = errorLogger()
  const signers = [testSigner(), testSigner()]
  const [a, b] = await Promise.all(signers.map(async (sg, i) => {
    const s = createMetaStore({ path: join(dir, `d${i}.db`), deviceId: `dev-${i}`, ...sg, ...(i === 1 ? { logger } : {}) })
    await s.start()
    onCleanup(t, async () => { await s.stop() })
    for (let j = 0; j < signers.length; j++) await s.trustAuthor(`dev-${j}`, signers[j].publicKey)
    return s
  }))
  const f = await a.create(ROOT_INO, 'f', FILE)
  await a.setContent(f.ino, { size: 4, stripeSize: 8, stripes: [stripe(0, 4, 'v1')] })
  // b's database holds the node id of a's create (1@dev-0) at another inode.
  const db = await Db.open(join(dir, 'd1.db'))
  try {
    await db.execBatch("INSERT INTO inodes(ino,node,type,mode,uid,gid,nlink,size,rdev,atime_s,atime_n,mtime_s,mtime_n,ctime_s,ctime_n,parent,entries,stripe_size) SELECT 999,'1@dev-0',type,mode,uid,gid,nlink,size,rdev,atime_s,atime_n,mtime_s,mtime_n,ctime_s,ctime_n,parent,entries,stripe_size FROM inodes WHERE ino=1;")
  } finally { await db.close() }
  const ops = []
  for await (const op of a.exportOps()) ops.push({ body: op.body, sig: op.sig })
  await assert.rejects(b.applyRemote(ops), /UNIQUE constraint failed: inodes\.node/)
  const until = Date.now() + 30_000
  while (!errors.some(e => e.includes('broke a journal constraint')) && Date.now() < until) await new Promise(r => setTimeout(r, 20))
  const line = errors.find(e => e.includes('broke a journal constraint')) ?? `(none of: ${errors.join('\n')})`
  assert.match(line, /UNIQUE constraint failed: inodes\.node/)
  assert.match(line, /node 1@dev-0 written at inode \d+ by op 1@dev-0 \(create\) is inode 999's in the database/)
  // Not read-only: local calls go on, and the ops are refused again (not lost) on a retry.
  await b.create(ROOT_INO, 'local', FILE)
  assert.ok(await b.lookup(ROOT_INO, 'local'))
  assert.equal(await b.lookup(ROOT_INO, 'f'), undefined)
  assert.deepEqual(await b.versionVector().then(v => v.get('dev-0')), undefined)
})
