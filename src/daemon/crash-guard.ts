/**
 * What the daemon does with an error nothing caught. A daemon serving a FUSE mount that exits
 * leaves a dead mount whose users hang, so a stray error of one network stream (a peer's reset or
 * a closed connection surfacing in libp2p's event listeners after its stream was handled: seen as
 * a StreamResetError that killed a device joining a swarm) is logged and the daemon goes on. An
 * unhandled rejection is logged the same way. Any other uncaught exception still ends the process
 * (its state is unknown), after the log line says what it was.
 */
import type { Logger } from '../util/logger.js'

/** Errors of one stream or connection: the peer went away or reset it. They never touch local state. */
const STREAM_ERRORS = new Set([
  'StreamResetError', 'StreamStateError', 'StreamClosedError', 'StreamAbortedError', 'StreamBufferError',
  'ConnectionClosedError', 'MuxerClosedError', 'UnexpectedEOFError'
])

export function isStreamError (err: unknown): boolean {
  return err instanceof Error && STREAM_ERRORS.has(err.name)
}

/** Installs the process handlers; returns their removal. */
export function installCrashGuard (log: Logger): () => void {
  const onRejection = (reason: unknown): void => {
    log.error('an error nothing awaited (a PALM bug if it repeats; please report it with this log): %e', reason)
  }
  const onException = (err: Error): void => {
    if (isStreamError(err)) {
      log.error('a network stream failed outside its handler (%s); the daemon goes on: %e', err.name, err)
      return
    }
    log.error('uncaught exception; the daemon stops: %e', err)
    process.exit(1)
  }
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  return () => {
    process.off('unhandledRejection', onRejection)
    process.off('uncaughtException', onException)
  }
}
