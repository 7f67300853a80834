import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs } from '../args.js'
import { resolveConfig } from '../../daemon/index.js'
import { withControl } from '../control.js'
import { printJson } from '../output.js'

const KEYS = ['home'] as const
const FLAGS = [{ name: 'json', type: 'boolean' as const, help: 'Print the code and addresses as JSON.' }]

export const invite: Command = {
  name: 'invite',
  summary: 'Print a one-line code another device can `palm join` with (it holds the swarm key: share it privately)',
  usage: () => `usage: palm invite [--home DIR] [--json]\n\n${flagHelp([...KEYS], FLAGS)}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS], FLAGS)
    const config = await resolveConfig(args.config)
    return await withControl(config, async (api) => {
      const r = await api.invite()
      if (args.flags.json === true) printJson(r)
      else process.stdout.write(`${r.code}\n`)
      return 0
    })
  }
}
