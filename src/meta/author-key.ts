/**
 * What the `authors` table holds per device: its raw 32-byte Ed25519 key while it is admitted, or,
 * once it is removed, a tombstone: 0xFF followed by that key (when it was known). The tombstone
 * keeps the key so that the device's earlier ops still verify (fsck, rebuild) while new ones are
 * refused, and so that no `admit` op admits the device again.
 */
const TOMBSTONE = 0xff
const KEY_BYTES = 32

/** The key of an admitted (not removed) device, or undefined. */
export function liveKey (v: Uint8Array | undefined): Uint8Array | undefined {
  return v?.byteLength === KEY_BYTES ? v : undefined
}

export function isTombstone (v: Uint8Array | undefined): boolean {
  return v != null && v.byteLength !== KEY_BYTES && v[0] === TOMBSTONE
}

/** The tombstone of a device whose key was `key` (or unknown). */
export function tombstone (key: Uint8Array | undefined): Uint8Array {
  const out = new Uint8Array(1 + (key?.byteLength ?? 0))
  out[0] = TOMBSTONE
  if (key != null) out.set(key, 1)
  return out
}

/**
 * The row (in `authors`, under a name no device id has) that holds the latest re-keying the journal
 * records: 0xEE ‖ epoch (u64) ‖ key fingerprint (8 bytes). Neither 32 bytes nor a tombstone, so no
 * reader takes it for a device.
 */
export const KEY_EPOCH_ROW = '#keyEpoch'
const EPOCH_MARK = 0xee

export function encodeKeyEpoch (epoch: number, keyId: string): Uint8Array {
  const out = Buffer.alloc(17)
  out[0] = EPOCH_MARK
  out.writeBigUInt64BE(BigInt(epoch), 1)
  Buffer.from(keyId, 'hex').copy(out, 9)
  return new Uint8Array(out)
}

export function decodeKeyEpoch (v: Uint8Array | undefined): { epoch: number, keyId: string } | undefined {
  if (v?.byteLength !== 17 || v[0] !== EPOCH_MARK) return undefined
  const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  return { epoch: Number(b.readBigUInt64BE(1)), keyId: b.subarray(9).toString('hex') }
}

/** The row (in `authors`) that holds a device's declared failure domain: 0xDD ‖ UTF-8 label. */
export const domainRow = (device: string): string => `@domain/${device}`
const DOMAIN_MARK = 0xdd

export function encodeDomain (domain: string): Uint8Array {
  return new Uint8Array(Buffer.concat([Uint8Array.of(DOMAIN_MARK), Buffer.from(domain, 'utf8')]))
}

export function decodeDomain (v: Uint8Array | undefined): string | undefined {
  if (v == null || v.byteLength < 1 || v[0] !== DOMAIN_MARK || v.byteLength === 32) return undefined
  return Buffer.from(v.subarray(1)).toString('utf8')
}

/** The key that signed a device's ops, admitted or removed (for checking ops already logged). */
export function signingKey (v: Uint8Array | undefined): Uint8Array | undefined {
  if (v == null) return undefined
  if (v.byteLength === KEY_BYTES) return v
  return isTombstone(v) && v.byteLength === 1 + KEY_BYTES ? v.subarray(1) : undefined
}
