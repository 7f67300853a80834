/**
 * Who may delete (issue 15): a member's DELETE of a fragment this device's journal references is
 * refused, nothing is deleted and the file stays readable. A real daemon (in process, network on,
 * no mount) with one file, and a real PALM node holding the swarm key as the member.
 */
import '../../src/util/polyfill.js'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { CID } from 'multiformats/cid'
import { Daemon } from '../../src/daemon/daemon.js'
import { initDevice, resolveConfig } from '../../src/daemon/index.js'
import { parseSwarmKey } from '../../src/net/index.js'
import { createTestNode } from '../unit/net/net-helpers.js'
import { createTempDir, onCleanup } from '../helpers/tmp.js'

const CTX = { uid: 0, gid: 0, pid: 0, umask: 0o022 }

it('a member\'s DELETE of a fragment the journal references is refused, and the file stays readable', { timeout: 60_000 }, async (t) => {
  const home = join(await createTempDir(t, 'palm-delete-'), 'a')
  const flags = { home, name: 'dev-a', listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, policy: '2-of-3', capacityBytes: 64 * 2 ** 20, minCapacityBytes: 2 ** 20 }
  const config = await resolveConfig(flags, { noFile: true })
  await initDevice(config, flags)
  const daemon = new Daemon({ config, network: true, controlSocket: false })
  onCleanup(t, async () => { await daemon.stop() })
  await daemon.start()
  const { vfs, net, store } = daemon.parts
  const data = new Uint8Array(randomBytes(200_000))
  const f = await vfs.create(CTX, 1, 'doc.bin', 0o644, 0o2)
  await vfs.write(CTX, f.attr.ino, f.fh, 0, data, 0)
  await vfs.release(CTX, f.attr.ino, f.fh, 0)
  const info = await daemon.control.info('/doc.bin')
  const cids = info.stripes[0].fragments.map(x => CID.parse(x.cid))
  assert.equal(cids.length, 3)

  const member = await createTestNode(t, { name: 'member', swarmKey: parseSwarmKey(await readFile(join(home, 'swarm.key'), 'utf8')) })
  const target = net?.multiaddrs()[0]
  assert.ok(target != null)
  await member.node.dial(target)
  await assert.rejects(member.node.fragments.delete(target.getComponents().find(c => c.name === 'p2p')?.value ?? '', cids),
    (err: Error) => err.name === 'PermissionError' && /journal still references/.test(err.message))
  for (const cid of cids) assert.equal(await store.has(cid), true, `${cid.toString()} is still stored`)
  const o = await vfs.open(CTX, f.attr.ino, 0)
  assert.deepEqual(Buffer.from(await vfs.read(CTX, f.attr.ino, o.fh, 0, data.byteLength)), Buffer.from(data))
  await vfs.release(CTX, f.attr.ino, o.fh, 0)
})
