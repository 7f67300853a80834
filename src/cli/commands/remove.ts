import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs, usageError } from '../args.js'
import { resolveConfig } from '../../daemon/index.js'
import { withControl } from '../control.js'
import { printJson } from '../output.js'

const KEYS = ['home'] as const
const FLAGS = [{ name: 'json', type: 'boolean' as const, help: 'Print the result as JSON.' }]

export const remove: Command = {
  name: 'remove',
  summary: 'Remove a device from the swarm: every device then refuses its connections, ops and fragments',
  usage: () => `usage: palm remove DEVICE [--home DIR] [--json]\n\nDEVICE is a device id, or a name only one device has (see \`palm peers\`).\n\n${flagHelp([...KEYS], FLAGS)}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS], FLAGS)
    const device = args.positionals[0]
    if (device == null || args.positionals.length > 1) throw usageError('needs exactly one device (its id, or a name only one device has; see `palm peers`)')
    const config = await resolveConfig(args.config)
    return await withControl(config, async (api) => {
      const r = await api.remove(device)
      if (args.flags.json === true) { printJson(r); return 0 }
      const who = r.name !== '' ? `${r.name} (${r.id})` : r.id
      const rekeyed = r.keyEpoch != null ? ` The swarm was re-keyed (key epoch ${r.keyEpoch}): the other devices fetch the new key as they reconnect, those offline when they return; ${who} gets none.` : ''
      process.stdout.write(r.removed
        ? `Removed ${who}: every device refuses its connections, ops and fragments once it has this change.${rekeyed}\n`
        : `${who} was removed already.${rekeyed}\n`)
      return 0
    })
  }
}
