/**
 * Logging: `@libp2p/logger` namespaces `palm:<layer>[:<part>]`, enabled with `DEBUG=palm:*`.
 * Components receive a ComponentLogger; tests give each peer `prefixLogger('peer-N')`.
 */
export { defaultLogger, prefixLogger, logger, enable as enableLogs } from '@libp2p/logger'
export type { ComponentLogger, Logger } from '@libp2p/interface'
