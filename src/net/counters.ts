/**
 * Protocol counters: what was served and what was refused (malformed, oversized, unexpected,
 * timed out). Exposed through `PalmNode.stats()` so tests and `palm status` can see refusals.
 */
import { faultOf } from './protocols/frames.js'
import type { ProtocolCounters } from './types.js'

export function createCounters (): ProtocolCounters {
  return { streams: 0, requests: 0, malformed: 0, oversized: 0, unexpected: 0, timeouts: 0, errors: 0 }
}

/** Counts a failed stream under its fault (or `errors`) and returns the counter's name. */
export function countFailure (counters: ProtocolCounters, err: unknown): keyof ProtocolCounters {
  const fault = faultOf(err)
  const key: keyof ProtocolCounters = fault === 'timeout' ? 'timeouts' : fault ?? 'errors'
  counters[key]++
  return key
}
