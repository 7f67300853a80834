import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs } from '../args.js'
import { resolveConfig } from '../../daemon/index.js'
import { withControl } from '../control.js'
import { printJson } from '../output.js'

const KEYS = ['home'] as const
const FLAGS = [
  { name: 'json', type: 'boolean' as const, help: 'Print the report as JSON.' },
  { name: 'repair', type: 'boolean' as const, help: 'Rebuild missing or corrupt fragments from the stripe\'s other fragments, and drop orphans.' }
]

export const fsck: Command = {
  name: 'fsck',
  summary: 'Check the journal against the stored fragments (exit 0 only when clean)',
  usage: () => `usage: palm fsck [--home DIR] [--json] [--repair]\n\n${flagHelp([...KEYS], FLAGS)}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS], FLAGS)
    const config = await resolveConfig(args.config)
    return await withControl(config, async (api) => {
      const r = await api.fsck({ repair: args.flags.repair === true })
      if (args.flags.json === true) {
        printJson(r)
      } else {
        for (const p of r.problems.slice(0, 200)) {
          process.stdout.write(`${p.kind.padEnd(10)} ${p.file ?? (p.ino != null ? `inode ${p.ino}` : '')} ${p.cid ?? ''} ${p.detail}\n`)
        }
        if (r.problems.length > 200) process.stdout.write(`… and ${r.problems.length - 200} more (use --json for all)\n`)
        const summary = Object.entries(r.counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ')
        process.stdout.write(r.clean
          ? `clean: ${r.stripesChecked} stripes, ${r.fragmentsChecked} fragments checked in ${r.durationMs} ms\n`
          : `NOT clean: ${summary}. \`palm fsck --repair\` rebuilds what k remaining fragments allow; fragments of offline devices come back with them.\n`)
      }
      return r.clean ? 0 : 1
    })
  }
}
