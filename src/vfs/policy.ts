/**
 * Redundancy policy per file. A directory's `user.palm.policy` ("2-of-3") is inherited by files
 * created under it (nearest ancestor wins, else the swarm default); a file records its policy at
 * creation in its own `user.palm.policy`, which its writes use. The folder's policy is the one in
 * force: when it changes, or the file moves under another, the repair layer's re-encoder
 * (src/repair/reencoder.ts) re-encodes the file's stripes and brings its record along.
 */
import { InvalidArgumentError } from '../errors.js'
import type { MetaStore } from '../meta/types.js'
import { ROOT_INO } from '../meta/types.js'
import type { StripePolicy } from '../place/types.js'
import type { AbortOptions } from '../util/abort.js'
import { XATTR_POLICY } from './constants.js'

const POLICY_RE = /^\s*(\d{1,3})\s*-\s*of\s*-\s*(\d{1,3})\s*$/

/** Parses "k-of-n" (1 ≤ k ≤ n ≤ 255); InvalidArgumentError otherwise. */
export function parsePolicy (text: string, where: string): StripePolicy {
  const m = POLICY_RE.exec(text)
  const k = m == null ? NaN : Number(m[1])
  const n = m == null ? NaN : Number(m[2])
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 1 || n < k || n > 255) {
    throw new InvalidArgumentError(`${XATTR_POLICY} of ${where} must look like "2-of-3" (1 ≤ k ≤ n ≤ 255), not "${text.slice(0, 40)}"`)
  }
  return { k, n }
}

/** "k-of-n", the stored form of a policy. */
export function formatPolicy (p: StripePolicy): string {
  return `${p.k}-of-${p.n}`
}

const decoder = new TextDecoder()

/** Finds the policy that applies to new files in a directory; caches per directory. */
export class PolicyResolver {
  readonly #meta: Pick<MetaStore, 'getxattr' | 'parentOf'>
  readonly #fallback: StripePolicy
  /** dir ino → its own policy (null: none set). Cleared on any policy change or directory move. */
  readonly #own = new Map<number, StripePolicy | null>()
  /** dir ino → the policy its new files inherit (null: the fallback). Cleared with #own. */
  readonly #inherited = new Map<number, StripePolicy | null>()
  /** Bumped by invalidate(): a walk that began before it does not cache its (maybe stale) answer. */
  #gen = 0
  static readonly MAX_CACHED = 65536

  constructor (meta: Pick<MetaStore, 'getxattr' | 'parentOf'>, fallback: StripePolicy) {
    this.#meta = meta
    this.#fallback = fallback
  }

  get fallback (): StripePolicy { return this.#fallback }

  /** Forget cached policies (a policy was set or removed, or a directory moved). */
  invalidate (): void {
    this.#own.clear()
    this.#inherited.clear()
    this.#gen++
  }

  /** The policy explicitly set on `ino` (file or directory), if any. */
  async ownPolicy (ino: number, options: AbortOptions = {}): Promise<StripePolicy | undefined> {
    const raw = await this.#meta.getxattr(ino, XATTR_POLICY, options)
    if (raw == null) return undefined
    return parsePolicy(decoder.decode(raw), `inode ${ino}`)
  }

  /** The nearest ancestor-or-self directory policy, or undefined when none is set up to the root. */
  async inherited (dirIno: number, options: AbortOptions = {}): Promise<StripePolicy | undefined> {
    // Every create asks: answered from memory after the first walk up the tree.
    const known = this.#inherited.get(dirIno)
    if (known !== undefined) return known ?? undefined
    const gen = this.#gen
    const found = await this.#walk(dirIno, options)
    if (gen !== this.#gen) return found
    if (this.#inherited.size >= PolicyResolver.MAX_CACHED) this.#inherited.clear()
    this.#inherited.set(dirIno, found ?? null)
    return found
  }

  async #walk (dirIno: number, options: AbortOptions): Promise<StripePolicy | undefined> {
    let ino = dirIno
    for (let depth = 0; depth < 4096; depth++) {
      let own = this.#own.get(ino)
      if (own === undefined) {
        own = (await this.ownPolicy(ino, options)) ?? null
        if (this.#own.size >= PolicyResolver.MAX_CACHED) this.#own.clear()
        this.#own.set(ino, own)
      }
      if (own != null) return own
      if (ino === ROOT_INO) return undefined
      const parent = await this.#meta.parentOf(ino, options)
      if (parent === ino) return undefined
      ino = parent
    }
    return undefined
  }
}
