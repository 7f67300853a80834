/**
 * Bounded parallelism for the store's many small file system calls (fsync batches, scans).
 */

/** Runs `fn` over `items` with at most `limit` calls in flight; rejects with the first error after all settle. */
export async function forEachLimit<T> (items: Iterable<T> | AsyncIterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>()
  let failure: { err: unknown } | undefined
  for await (const item of items) {
    if (failure != null) break
    const p: Promise<void> = fn(item).catch(err => { failure ??= { err } }).finally(() => { running.delete(p) })
    running.add(p)
    if (running.size >= limit) await Promise.race(running)
  }
  await Promise.all(running)
  if (failure != null) throw failure.err
}
