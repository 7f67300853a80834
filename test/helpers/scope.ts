/**
 * A cleanup scope for code that is not a node:test context (suite setup functions): resources
 * created with the createX and startX helpers register on it, and `close()` tears them down in reverse.
 */
import type { Cleanup } from './tmp.js'

export class CleanupScope implements Cleanup {
  readonly #hooks: Array<() => unknown> = []

  after (fn: () => unknown): void {
    this.#hooks.push(fn)
  }

  async close (): Promise<void> {
    let first: unknown
    for (const fn of this.#hooks.splice(0).reverse()) {
      try { await fn() } catch (err) { first ??= err }
    }
    if (first !== undefined) throw first
  }
}
