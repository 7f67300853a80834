/**
 * The device's peer key and the swarm key, each in its own file in the home, mode 0600, created
 * once and kept across restarts. Creation is atomic (write a temp file, then link it into place),
 * so two processes starting at once agree on one key.
 *
 * Swarm key file format (the go-ipfs/libp2p "pnet" text format, so tools recognise it):
 *   /key/swarm/psk/1.0.0/
 *   /base16/
 *   <64 hex digits>
 */
import { randomBytes } from 'node:crypto'
import { chmod, link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { InvalidConfigError } from '../errors.js'
import { SWARM_KEY_BYTES } from '../util/swarm-salt.js'
import type { PrivateKey } from '@libp2p/interface'

const SWARM_KEY_HEADER = '/key/swarm/psk/1.0.0/'
const SWARM_KEY_CODEC = '/base16/'

/** Writes `bytes` to `path` with mode 0600 unless the file exists; returns the bytes now in `path`. */
async function createOnce (path: string, bytes: Uint8Array): Promise<Uint8Array> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, bytes, { mode: 0o600, flag: 'wx' })
  try {
    await link(tmp, path)
    return bytes
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    return new Uint8Array(await readFile(path))
  } finally {
    await rm(tmp, { force: true })
  }
}

/** Reads `path`, tightening its mode to 0600 if it was looser; undefined when absent. */
async function readPrivate (path: string): Promise<Uint8Array | undefined> {
  try {
    const st = await stat(path)
    if ((st.mode & 0o077) !== 0) await chmod(path, 0o600)
    return new Uint8Array(await readFile(path))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/**
 * The device's libp2p identity (Ed25519) stored at `path` (protobuf, mode 0600). Created on first
 * use. InvalidConfigError when the file exists but is not a key.
 */
export async function loadOrCreatePeerKey (path: string): Promise<PrivateKey> {
  let bytes = await readPrivate(path)
  bytes ??= await createOnce(path, privateKeyToProtobuf(await generateKeyPair('Ed25519')))
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new InvalidConfigError(`the peer key file ${path} is damaged; move it away to give this device a new identity (other devices will see a new peer)`, { cause: err, details: { path } })
  }
}

/** Writes a device key made before its home existed (`palm join`); refuses to replace another. */
export async function savePeerKey (path: string, key: PrivateKey): Promise<void> {
  const bytes = privateKeyToProtobuf(key)
  if (Buffer.compare(await createOnce(path, bytes), bytes) !== 0) {
    throw new InvalidConfigError(`${path} already holds another device key; use a new --home for this device`, { details: { path } })
  }
}

/** 32 random bytes: a new swarm. */
export function generateSwarmKey (): Uint8Array {
  return new Uint8Array(randomBytes(SWARM_KEY_BYTES))
}

/** The text form of a swarm key (see the file header). */
export function formatSwarmKey (swarmKey: Uint8Array): string {
  if (swarmKey.byteLength !== SWARM_KEY_BYTES) throw new InvalidConfigError(`a swarm key is ${SWARM_KEY_BYTES} bytes, got ${swarmKey.byteLength}`)
  return `${SWARM_KEY_HEADER}\n${SWARM_KEY_CODEC}\n${Buffer.from(swarmKey).toString('hex')}\n`
}

/** Parses the text form; InvalidConfigError naming `source` when it is not one. */
export function parseSwarmKey (text: string, source = 'swarm key'): Uint8Array {
  const lines = text.split(/\r?\n/).map(l => l.trim()).filter(l => l.length > 0)
  const hex = lines[2] ?? ''
  if (lines[0] !== SWARM_KEY_HEADER || lines[1] !== SWARM_KEY_CODEC || !/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new InvalidConfigError(`${source} is not a PALM swarm key (expected "${SWARM_KEY_HEADER}", "${SWARM_KEY_CODEC}" and 64 hex digits); restore it from a backup or join again with an invite code`, { details: { source } })
  }
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

/** Writes a swarm key (from an invite) to `path`, mode 0600; refuses to replace a different one. */
export async function saveSwarmKey (path: string, swarmKey: Uint8Array): Promise<void> {
  const stored = parseSwarmKey(new TextDecoder().decode(await createOnce(path, new TextEncoder().encode(formatSwarmKey(swarmKey)))), path)
  if (Buffer.compare(stored, swarmKey) !== 0) {
    throw new InvalidConfigError(`${path} already holds another swarm's key; this home belongs to another swarm (use a new --home to join this one)`, { details: { path } })
  }
}

/** The swarm key at `path` (text form, mode 0600), created with fresh random bytes on first use. */
export async function loadOrCreateSwarmKey (path: string): Promise<Uint8Array> {
  let bytes = await readPrivate(path)
  bytes ??= await createOnce(path, new TextEncoder().encode(formatSwarmKey(generateSwarmKey())))
  return parseSwarmKey(new TextDecoder().decode(bytes), path)
}
