import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs, usageError } from '../args.js'
import { resolveConfig } from '../../daemon/index.js'
import type { DrainReport } from '../../daemon/control-api.js'
import { withControl } from '../control.js'
import { printJson } from '../output.js'
import { createProgress, formatEta, progressMode } from '../progress.js'

const KEYS = ['home'] as const
const FLAGS = [{ name: 'json', type: 'boolean' as const, help: 'Print what was moved as JSON.' }]

export function formatDrain (r: DrainReport): string {
  const name = r.device.name === '' ? r.device.id : r.device.name
  return `moved ${r.fragmentsMoved} fragments of ${r.stripesMoved} stripes off ${name} in ${formatEta(r.durationMs)}; no file needs ${name} any more: it may now be wiped`
}

export const drain: Command = {
  name: 'drain',
  summary: 'Move every fragment off a device that is still alive (with progress), until it may be wiped',
  usage: () => `usage: palm drain DEVICE [--home DIR] [--json]\n\nDEVICE is a name or id from \`palm peers\`.\n${flagHelp([...KEYS], FLAGS)}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS], FLAGS)
    const device = args.positionals[0]
    if (device == null || args.positionals.length > 1) throw usageError('needs exactly one device: a name or id from `palm peers`')
    const config = await resolveConfig(args.config)
    const progress = createProgress(progressMode(args.flags.json === true))
    return await withControl(config, async (api) => {
      const r = await api.drain(device, { onProgress: progress.onProgress }).finally(progress.done)
      if (args.flags.json === true) printJson(r)
      else process.stdout.write(formatDrain(r) + '\n')
      return 0
    })
  }
}
