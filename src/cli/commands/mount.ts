import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs, usageError } from '../args.js'
import { resolveConfig, runDaemon, spawnDaemon } from '../../daemon/index.js'

const KEYS = ['home', 'cacheBytes', 'dirtyBytes', 'listen', 'mdns', 'dht', 'network', 'allowOther', 'allowNonEmpty', 'durability', 'dashboardPort'] as const
const FLAGS = [{ name: 'foreground', type: 'boolean' as const, help: 'Stay in the foreground, logging to stderr, until SIGTERM/SIGINT (then unmount).' }]

export const mount: Command = {
  name: 'mount',
  summary: 'Start the daemon and mount the folder (default ~/palm)',
  usage: () => `usage: palm mount [MOUNTPOINT] [--home DIR] [--foreground]\n\n${flagHelp([...KEYS], FLAGS)}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS], FLAGS)
    if (args.positionals.length > 1) throw usageError('takes at most one MOUNTPOINT')
    const config = await resolveConfig(args.config)
    const mountpoint = args.positionals[0] ?? config.mountpoint
    if (args.flags.foreground === true) {
      return await runDaemon(config, { mountpoint })
    }
    const r = await spawnDaemon(config, mountpoint, argv)
    process.stdout.write(`${r.alreadyMounted ? 'already mounted' : 'mounted'}: ${r.mountpoint} (daemon pid ${r.pid}, log ${r.logFile})\n`)
    if (r.warning != null) process.stdout.write(`${r.warning}\n`)
    if (r.missing != null) process.stdout.write(`still missing: ${r.missing.join(', ')} (reads that need them wait for them; \`palm status\` shows when they are back)\n`)
    return 0
  }
}
