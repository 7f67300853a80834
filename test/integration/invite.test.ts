/**
 * Invites (issue 15): a code is redeemed once, at the device that made it, over the encrypted
 * invite exchange; it carries no swarm key. A used, an expired and a forged code are each refused
 * with a message that says which, and leave no home behind. One serving device and the CLI.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import sqlite3 from 'sqlite3'
import { palm, startServe, testEnv, type CliResult } from '../helpers/palm.js'
import { createTempDir } from '../helpers/tmp.js'
import { decodeInviteCode, encodeInviteCode, parseSwarmKey } from '../../src/net/index.js'

const env = testEnv()

async function cli (args: string[], input?: string): Promise<CliResult> {
  return await palm(args, { env, timeoutMs: 60_000, ...(input != null ? { input } : {}) })
}

async function admittedIn (journal: string): Promise<string[]> {
  const db = new sqlite3.Database(journal, sqlite3.OPEN_READONLY)
  try {
    const rows = await new Promise<Array<{ body: string }>>((resolve, reject) => {
      db.all("SELECT body FROM ops WHERE kind = 'admit'", (err, r) => { if (err != null) reject(err); else resolve(r as any) })
    })
    return rows.map(r => JSON.parse(r.body).device)
  } finally {
    db.close()
  }
}

it('an invite code works once, expires, cannot be forged, and hands over the swarm key without carrying it', { timeout: 120_000 }, async (t) => {
  const root = await createTempDir(t, 'palm-invite-')
  const home = (name: string): string => join(root, name)
  assert.equal((await cli(['init', '--home', home('a'), '--name', 'dev-a'])).code, 0)
  const a = await startServe(t, home('a'), { env })
  const swarmKey = parseSwarmKey(await readFile(join(home('a'), 'swarm.key'), 'utf8'))

  const code = (await cli(['invite', '--home', home('a')])).stdout.trim()
  assert.ok(!Buffer.from(code.slice('palm1-'.length), 'base64url').includes(Buffer.from(swarmKey)), 'the code does not carry the swarm key')
  const joined = await cli(['join', '-', '--home', home('b'), '--name', 'dev-b', '--json'], code + '\n')
  assert.equal(joined.code, 0, joined.stderr)
  const b = JSON.parse(joined.stdout)
  assert.deepEqual(await readFile(join(home('b'), 'swarm.key')), await readFile(join(home('a'), 'swarm.key')))

  const refused = async (name: string, c: string, word: RegExp): Promise<void> => {
    const r = await cli(['join', c, '--home', home(name)])
    assert.equal(r.code, 1, r.stdout)
    assert.match(r.stderr, word)
    assert.equal(existsSync(home(name)), false, 'a refused code makes no home')
  }
  await refused('used', code, /^palm: the invite code was already used: .* by device dev-b/)

  const forged = decodeInviteCode((await cli(['invite', '--home', home('a')])).stdout)
  forged.secret[0] ^= 1
  await refused('forged', encodeInviteCode(forged), /^palm: the invite code is forged: .*secret does not match/)

  const short = (await cli(['invite', '--home', home('a'), '--ttl', '1'])).stdout.trim()
  await new Promise(resolve => setTimeout(resolve, 1_500))
  await refused('expired', short, /^palm: the invite code has expired/)

  // The inviting device admitted the new one with a signed op (the redo log reaches SQLite within ms).
  await admittedWithin(join(home('a'), 'journal.db'), b.deviceId, 'dev-a')

  // The joiner counts its inviter as a member from its first start, before they meet (here they
  // never do: no address, no mDNS), so it compacts no undo record the inviter's older ops need.
  await rm(join(home('b'), 'bootstrap.json'))
  const alone = await startServe(t, home('b'), { env })
  await admittedWithin(join(home('b'), 'journal.db'), a.id, 'dev-b')
  assert.doesNotMatch(alone.output(), /peer dev-a .* is online/)
})

async function admittedWithin (journal: string, device: string, name: string): Promise<void> {
  const until = Date.now() + 10_000
  while (!(await admittedIn(journal)).includes(device)) {
    assert.ok(Date.now() < until, `no admit op for ${device} in ${name}'s journal`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
