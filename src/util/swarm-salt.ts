/**
 * The per-swarm salt of convergent encryption (DESIGN "Data path", step 1: `h = SHA-256(swarmSalt ‖ stripe)`).
 * It lives in util rather than net because chunk (pure, no I/O) needs it and must not import net.
 * Derived from the swarm key with HKDF-SHA256 under a label of its own, so knowing the salt (it is
 * used in every stripe hash) reveals nothing about the swarm key that gates connections.
 */
import { hkdfSync } from 'node:crypto'
import { InvalidArgumentError } from '../errors.js'

/** Length of a swarm key in bytes. */
export const SWARM_KEY_BYTES = 32

/** Length of the derived salt in bytes. */
export const SWARM_SALT_BYTES = 32

const SALT_INFO = 'palm/chunk/convergent-salt/v1'

/**
 * HKDF-SHA256(ikm = swarmKey, salt = empty, info = 'palm/chunk/convergent-salt/v1'), 32 bytes.
 * Deterministic: every device of a swarm derives the same salt, so identical stripes dedup.
 */
export function deriveSwarmSalt (swarmKey: Uint8Array): Uint8Array {
  if (swarmKey.byteLength !== SWARM_KEY_BYTES) {
    throw new InvalidArgumentError(`a swarm key is ${SWARM_KEY_BYTES} bytes, got ${swarmKey.byteLength}; load it with loadOrCreateSwarmKey`)
  }
  return new Uint8Array(hkdfSync('sha256', swarmKey, new Uint8Array(0), SALT_INFO, SWARM_SALT_BYTES))
}
