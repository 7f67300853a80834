/**
 * Admission: a device joins the swarm's journal by an `admit` op signed by a device already
 * admitted (docs/journal.md, "Verification"). From then on, ops it signs with that key are
 * accepted. A device admitted already keeps its key (admitting it again changes nothing).
 * Removal (`removeDevice`) replaces the key with a tombstone: the device's ops are refused and
 * it cannot be admitted again.
 */
import { InvalidArgumentError } from '../errors.js'
import type { Op } from './op.js'
import type { ApplyResult } from './apply.js'
import type { ApplyView } from './view.js'

type AdmitOp = Extract<Op, { kind: 'admit' }>

/** The raw 32-byte Ed25519 key of an admit op; InvalidArgumentError if it is not one. */
export function admitKey (op: AdmitOp): Uint8Array {
  if (typeof op.device !== 'string' || op.device === '' || op.device.length > 128) throw new InvalidArgumentError('admit op names no device')
  const key = typeof op.key === 'string' ? new Uint8Array(Buffer.from(op.key, 'base64')) : new Uint8Array(0)
  if (key.byteLength !== 32) throw new InvalidArgumentError(`admit op for device ${op.device} carries no 32-byte Ed25519 key`)
  return key
}

export function applyAdmit (v: ApplyView, op: AdmitOp): ApplyResult {
  const key = admitKey(op)
  // A removed device stays removed, whichever of the two ops sorts first.
  if (v.admitted(op.device) == null && !v.removed(op.device)) v.admit(op.device, key)
  return {}
}

/**
 * A re-keying: the journal keeps the latest epoch and its key's fingerprint (the key itself lives
 * in each device's home). Two re-keyings to one epoch (concurrent removals) keep the higher
 * fingerprint, as devices do with the keys themselves.
 */
export function applyKeyEpoch (v: ApplyView, op: Extract<Op, { kind: 'keyEpoch' }>): ApplyResult {
  if (!Number.isSafeInteger(op.epoch) || op.epoch < 1 || typeof op.keyId !== 'string' || !/^[0-9a-f]{16}$/.test(op.keyId)) {
    throw new InvalidArgumentError('keyEpoch op names no epoch and key fingerprint')
  }
  const cur = v.keyEpoch()
  if (cur == null || op.epoch > cur.epoch || (op.epoch === cur.epoch && op.keyId > cur.keyId)) v.setKeyEpoch(op.epoch, op.keyId)
  return {}
}

/** Most characters of a failure-domain label. */
export const MAX_DOMAIN_CHARS = 64

/** A device's failure domain, declared by the device itself (the op's author). */
export function applySetDomain (v: ApplyView, op: Extract<Op, { kind: 'setDomain' }>): ApplyResult {
  if (typeof op.domain !== 'string' || op.domain.length > MAX_DOMAIN_CHARS) throw new InvalidArgumentError(`setDomain op carries no domain label of at most ${MAX_DOMAIN_CHARS} characters`)
  v.setDomain(op.author, op.domain)
  return {}
}

/** Removal: the device's key is replaced by a tombstone (an empty key), so its ops are refused. */
export function applyRemoveDevice (v: ApplyView, op: Extract<Op, { kind: 'removeDevice' }>): ApplyResult {
  if (typeof op.device !== 'string' || op.device === '' || op.device.length > 128) throw new InvalidArgumentError('removeDevice op names no device')
  // Removed already (two devices removed it concurrently): the tombstone keeps the key it holds.
  if (v.removed(op.device)) return {}
  v.removeDevice(op.device)
  return {}
}
