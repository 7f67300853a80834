import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs } from '../args.js'
import { resolveConfig, runDaemon } from '../../daemon/index.js'

const KEYS = ['home', 'listen', 'mdns', 'dht', 'capacityBytes', 'dashboardPort', 'domain'] as const

export const serve: Command = {
  name: 'serve',
  summary: 'Run a storage-only device in the foreground (no mount) until SIGTERM/SIGINT',
  usage: () => `usage: palm serve [--home DIR] [--listen MULTIADDR]…\n\n${flagHelp([...KEYS])}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS])
    const config = await resolveConfig(args.config)
    return await runDaemon(config, {})
  }
}
