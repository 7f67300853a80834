import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs, usageError } from '../args.js'
import { resolveConfig, stopDaemon } from '../../daemon/index.js'

const KEYS = ['home'] as const

export const unmount: Command = {
  name: 'unmount',
  summary: 'Flush, unmount and stop the daemon (also recovers a stale mount)',
  usage: () => `usage: palm unmount [MOUNTPOINT] [--home DIR]\n\n${flagHelp([...KEYS])}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS])
    if (args.positionals.length > 1) throw usageError('takes at most one MOUNTPOINT')
    const config = await resolveConfig(args.config)
    const r = await stopDaemon(config, args.positionals[0])
    process.stdout.write(`${r.message}\n`)
    return 0
  }
}
