import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs } from '../args.js'
import { resolveConfig } from '../../daemon/index.js'
import { withControl } from '../control.js'
import { size } from '../output.js'

const KEYS = ['home'] as const

export const gc: Command = {
  name: 'gc',
  summary: 'Delete this device\'s fragments no file uses any more (older than the grace period)',
  usage: () => `usage: palm gc [--home DIR]\n\n${flagHelp([...KEYS])}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS])
    const config = await resolveConfig(args.config)
    return await withControl(config, async (api) => {
      const r = await api.gc()
      process.stdout.write(`deleted ${r.deleted} unused fragments, ${size(r.freedBytes)} freed\n`)
      return 0
    })
  }
}
