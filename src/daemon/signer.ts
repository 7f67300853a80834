/**
 * Signs journal ops with the device's libp2p Ed25519 key, synchronously, through node:crypto (the
 * libp2p key's `sign` may be async; the journal writer must not await inside a transaction).
 */
import { createPrivateKey, sign as edSign, type KeyObject } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { InvalidConfigError } from '../errors.js'

/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

export interface OpSigner {
  sign: (data: Uint8Array) => Uint8Array
  /** The same signature made on the libuv threadpool (the journal signs its commits with it). */
  signAsync: (data: Uint8Array) => Promise<Uint8Array>
  publicKey: Uint8Array
}

export function opSigner (key: PrivateKey): OpSigner {
  if (key.type !== 'Ed25519') throw new InvalidConfigError(`the device key is ${key.type}; PALM signs journal ops with Ed25519 keys`)
  const seed = key.raw.subarray(0, 32)
  const nodeKey: KeyObject = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  return {
    sign: (data) => new Uint8Array(edSign(null, data, nodeKey)),
    signAsync: async (data) => await new Promise<Uint8Array>((resolve, reject) => {
      edSign(null, data, nodeKey, (err, sig) => { if (err != null) reject(err); else resolve(new Uint8Array(sig)) })
    }),
    publicKey: key.publicKey.raw
  }
}
