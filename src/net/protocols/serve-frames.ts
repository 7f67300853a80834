/**
 * The server loop every request/reply protocol shares (fragment, journal): requests on one stream
 * are answered one at a time (the next frame is read only after the reply is written), so a stream
 * holds one frame; each request (read, work, reply) gets `requestTimeoutMs` from one deadline. Any
 * failure (malformed, oversized, unexpected, timeout, I/O) resets the stream, is counted and logged
 * with the peer, and never escapes. A stream the peer reset itself is counted the same way but
 * logged at debug level: that is a client abandoning its request, not a fault here.
 */
import { RestartableDeadline } from '../../util/abort.js'
import { countFailure } from '../counters.js'
import { FramedStream } from './frames.js'
import type { ProtocolCounters } from '../types.js'
import type { FrameBudget } from './frame-budget.js'
import type { Connection, Logger, Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface ServeFramesInit {
  /** Named in log lines: "<protocol> stream from peer … reset". */
  protocol: string
  maxFrameBytes: number
  requestTimeoutMs: number
  shutdown: AbortSignal
  counters: ProtocolCounters
  log: Logger
  /** "name (id)" of a peer for log lines (default: the id). */
  describe?: (peer: string) => string
  /** Memory budget for frames in flight; each frame is reserved until its reply is written. */
  budget?: FrameBudget
}

/** A request's reply; `last` closes the stream after it (e.g. an unsupported version). */
export interface FrameReply { reply: Uint8Array | Uint8ArrayList, last?: boolean }

export async function serveFrames (stream: Stream, connection: Connection, init: ServeFramesInit,
  handle: (bytes: Uint8Array, peer: string, signal: AbortSignal) => Promise<FrameReply>): Promise<void> {
  const counters = init.counters
  counters.streams++
  const peer = connection.remotePeer.toString()
  const framed = new FramedStream(stream, init.maxFrameBytes)
  const deadline = new RestartableDeadline([init.shutdown], init.requestTimeoutMs)
  const { signal } = deadline
  let release: (() => void) | undefined
  const reserve = init.budget == null
    ? undefined
    : (bytes: number): boolean => {
        release = init.budget?.reserve(peer, bytes)
        if (release == null) init.log.error('%s', init.budget?.describe(init.describe?.(peer) ?? peer, bytes))
        return release != null
      }
  try {
    while (true) {
      deadline.restart()
      const frame = await framed.read(signal, reserve)
      if (frame == null) break
      const { reply, last } = await handle(frame.subarray(), peer, signal)
      await framed.write(reply, signal)
      release?.()
      release = undefined
      if (last === true) break
      counters.requests++
    }
    await stream.close()
  } catch (err) {
    const kind = countFailure(counters, err)
    // A peer that resets its own stream gave up on its request (a read that had its k fragments
    // aborts the others): counted, and logged only when debugging; anything else is an error line.
    const abandoned = (err as Error)?.name === 'StreamResetError' || ((err as Error)?.name === 'StreamStateError' && stream.status === 'reset')
    const log = abandoned ? init.log : init.log.error
    if (!init.shutdown.aborted) log('%s stream from peer %s reset (%s) - %s', init.protocol, init.describe?.(peer) ?? peer, kind, (err as Error)?.message)
    stream.abort(err as Error)
  } finally {
    release?.()
    deadline.clear()
  }
}
