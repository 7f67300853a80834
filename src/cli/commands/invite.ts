import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs } from '../args.js'
import { resolveConfig } from '../../daemon/index.js'
import { withControl } from '../control.js'
import { printJson } from '../output.js'

const KEYS = ['home'] as const
/** How long a code works, said once for text and JSON. */
const INVITE_VALIDITY = 'it carries the swarm key, so it works for anyone who has it for as long as the swarm keeps that key'
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
      if (args.flags.json === true) { printJson({ ...r, expires: null, validity: INVITE_VALIDITY }); return 0 }
      process.stdout.write(`${r.code}\n`)
      // stdout keeps only the code (scripts take it with $(palm invite)); the note goes to stderr.
      process.stderr.write(`This code does not expire: ${INVITE_VALIDITY}. Share it privately; \`palm join CODE\` on the other device.\n`)
      return 0
    })
  }
}
