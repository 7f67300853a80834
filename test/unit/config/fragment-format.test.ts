/**
 * The fragment format setting (docs/chunk-format.md, "Format versions"): 2 by default, 1 for a swarm
 * still being upgraded, anything else refused with the setting named; the chunk pool refuses a
 * version it does not write.
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { loadConfig } from '../../../src/config/load.js'
import { createChunkPool } from '../../../src/chunk/index.js'

it('fragmentFormat is 2 by default, 1 on request, and nothing else', async () => {
  assert.equal((await loadConfig({ env: {}, noFile: true })).fragmentFormat, 2)
  assert.equal((await loadConfig({ env: { PALM_FRAGMENT_FORMAT: '1' }, noFile: true })).fragmentFormat, 1)
  await assert.rejects(loadConfig({ env: { PALM_FRAGMENT_FORMAT: '3' }, noFile: true }), /the fragment format must be 1 or 2 \(got 3\)/)
  assert.throws(() => createChunkPool({ salt: new Uint8Array(32), workers: 1, formatVersion: 3 }), { name: 'InvalidArgumentError' })
})
