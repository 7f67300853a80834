import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs, usageError } from '../args.js'
import { resolveConfig } from '../../daemon/index.js'
import { parseDuration } from '../../config/parse.js'
import { withControl } from '../control.js'
import { printJson } from '../output.js'

const KEYS = ['home'] as const
const FLAGS = [
  { name: 'ttl', type: 'string' as const, help: 'How long the code works: 30m, 1h (default), 2d; a bare number is seconds. At most 7 days.' },
  { name: 'json', type: 'boolean' as const, help: 'Print the code, addresses and expiry as JSON.' }
]

/** `--ttl` in ms: a duration with a unit, or whole seconds. */
function ttlOf (text: string | undefined): number | undefined {
  if (text == null) return undefined
  const ms = /^\s*\d+\s*$/.test(text) ? Number(text) * 1000 : parseDuration(text)
  if (ms == null) throw usageError(`--ttl ${text} is not a duration; give e.g. --ttl 30m, 1h or 2d`)
  return ms
}

export const invite: Command = {
  name: 'invite',
  summary: 'Print a single-use code another device can `palm join` with (it expires after an hour, or --ttl)',
  usage: () => `usage: palm invite [--home DIR] [--ttl DURATION] [--json]\n\n${flagHelp([...KEYS], FLAGS)}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS], FLAGS)
    const ttlMs = ttlOf(args.flags.ttl as string | undefined)
    const config = await resolveConfig(args.config)
    return await withControl(config, async (api) => {
      const r = await api.invite(ttlMs != null ? { ttlMs } : {})
      if (args.flags.json === true) { printJson(r); return 0 }
      process.stdout.write(`${r.code}\n`)
      // stdout keeps only the code (scripts take it with $(palm invite)); the note goes to stderr.
      const start = r.listening ? '' : ' This device\'s daemon is not running: start it (`palm serve` or `palm mount`) before the code is used.'
      process.stderr.write(`This code works once, until ${r.expiresAt}, and only while this device runs; it does not contain the swarm key.${start} On the other device: \`palm join -\` and paste it (or \`palm join CODE\`).\n`)
      return 0
    })
  }
}
