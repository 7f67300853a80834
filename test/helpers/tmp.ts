/**
 * Test helpers that register their own cleanup when they create something (hypercore style).
 * node:test runs `after` hooks in registration order, so cleanups go through a per-test stack
 * that runs last-in first-out: a daemon is stopped before its directory is removed, even when
 * setup failed halfway.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Anything with `after` (node:test's TestContext or SuiteContext). */
export interface Cleanup {
  after: (fn: () => unknown) => void
}

const stacks = new WeakMap<Cleanup, Array<() => unknown>>()

/** Registers `fn` to run after the test; cleanups run in reverse order of registration. Errors are logged, not thrown, so every cleanup runs. */
export function onCleanup (t: Cleanup, fn: () => unknown): void {
  let stack = stacks.get(t)
  if (stack == null) {
    const s: Array<() => unknown> = []
    stack = s
    stacks.set(t, s)
    t.after(async () => {
      let first: unknown
      for (const f of s.splice(0).reverse()) {
        try { await f() } catch (err) { first ??= err; console.error('cleanup failed:', err) }
      }
      if (first !== undefined) throw first
    })
  }
  stack.push(fn)
}

/** A fresh temporary directory, removed after the test (or suite). */
export async function createTempDir (t: Cleanup, prefix = 'palm-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  onCleanup(t, async () => { await rm(dir, { recursive: true, force: true, maxRetries: 3 }) })
  return dir
}
