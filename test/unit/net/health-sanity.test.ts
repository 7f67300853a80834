import assert from 'node:assert/strict'
import { it } from 'node:test'
import { decodeAnnouncement, encodeAnnouncement, MAX_ANNOUNCED_CAPACITY_BYTES } from '../../../src/net/protocols/health.js'
import type { HealthAnnouncement } from '../../../src/net/index.js'

const base: HealthAnnouncement = { name: 'nas', capacityBytes: 2 ** 40, usedBytes: 2 ** 30, freeBytes: 2 ** 40 - 2 ** 30, fragmentCount: 10, journalHead: '1', version: 't', uptimeMs: 1 }

it('a peer name loses terminal escapes, other control characters and bidi overrides', () => {
  const a = decodeAnnouncement(encodeAnnouncement({ ...base, name: 'nas\u001b[2J\u001b]0;pwned\u0007\r\n\u202eevil\u009b' }))
  assert.doesNotMatch(a.name, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/)
  assert.ok(a.name.startsWith('nas'))
})

it('announced capacity and free space are bounded by what the device says it stores', () => {
  const liar = decodeAnnouncement(encodeAnnouncement({ ...base, freeBytes: Number.MAX_SAFE_INTEGER }))
  assert.equal(liar.freeBytes, 2 ** 40 - 2 ** 30)
  const huge = decodeAnnouncement(encodeAnnouncement({ ...base, capacityBytes: Number.MAX_SAFE_INTEGER, usedBytes: 0, freeBytes: Number.MAX_SAFE_INTEGER }))
  assert.equal(huge.capacityBytes, MAX_ANNOUNCED_CAPACITY_BYTES)
  assert.equal(huge.freeBytes, MAX_ANNOUNCED_CAPACITY_BYTES)
  const over = decodeAnnouncement(encodeAnnouncement({ ...base, usedBytes: 2 ** 41, freeBytes: 5 }))
  assert.equal(over.freeBytes, 0, 'a device over its capacity has no room')
  assert.deepEqual(decodeAnnouncement(encodeAnnouncement(base)), base, 'an honest announcement is unchanged')
})
