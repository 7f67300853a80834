import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs } from '../args.js'
import { resolveConfig } from '../../daemon/index.js'
import type { GcResult } from '../../daemon/control-api.js'
import { withControl } from '../control.js'
import { printJson, size } from '../output.js'
import { createProgress, formatEta, progressMode } from '../progress.js'

const KEYS = ['home'] as const
const FLAGS = [
  { name: 'dry-run', type: 'boolean' as const, help: 'Say what would be deleted; delete nothing.' },
  { name: 'json', type: 'boolean' as const, help: 'Print what was deleted and kept as JSON.' }
]

function plural (n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** What gc did and, line by line, what it kept and why. */
export function formatGc (r: GcResult): string {
  if (r.putOff === true) return `deleted nothing: other devices' journal ops kept arriving while this device read which fragments its files use (${r.scanned} fragments kept); run \`palm gc\` again in a moment`
  const lines = [r.dryRun
    ? `would delete ${plural(r.deleted, 'unused fragment')} (${size(r.freedBytes)}) of the ${r.scanned} on this device; nothing was deleted (--dry-run)`
    : `deleted ${plural(r.deleted, 'unused fragment')}, ${size(r.freedBytes)} freed, of the ${r.scanned} on this device`]
  if (r.referenced > 0) lines.push(`kept ${plural(r.referenced, 'fragment')} that files still use`)
  if (r.foreign > 0) lines.push(`kept ${plural(r.foreign, 'fragment')} other devices placed here (their files are in their journals)`)
  const pinned = r.pinned ?? 0
  const inGrace = r.young - pinned
  if (inGrace > 0) {
    lines.push(`kept ${plural(inGrace, 'unused fragment')} (${size(r.youngBytes - (r.pinnedBytes ?? 0))}) younger than the grace period of ${formatEta(r.graceMs)} (a write may not have reached the journal yet): ` +
      `the first can go in ${formatEta(r.nextEligibleInMs ?? 0)}: run \`palm gc\` again then (a running daemon also collects on its own; PALM_GC_GRACE sets the grace)`)
  }
  if (pinned > 0) {
    lines.push(`kept ${plural(pinned, 'unused fragment')} (${size(r.pinnedBytes ?? 0)}) past the grace period, put while a file open for writing here had data its journal does not name yet: ` +
      'they can go once that file is closed or fsynced; run `palm gc` again then')
  }
  return lines.join('\n')
}

export const gc: Command = {
  name: 'gc',
  summary: 'Delete this device\'s fragments no file uses any more (older than the grace period), and say what was kept and why',
  usage: () => `usage: palm gc [--home DIR] [--dry-run] [--json]\n\n${flagHelp([...KEYS], FLAGS)}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS], FLAGS)
    const config = await resolveConfig(args.config)
    const progress = createProgress(progressMode(args.flags.json === true))
    return await withControl(config, async (api) => {
      const r = await api.gc({ dryRun: args.flags['dry-run'] === true, onProgress: progress.onProgress }).finally(progress.done)
      if (args.flags.json === true) printJson(r)
      else process.stdout.write(formatGc(r) + '\n')
      return 0
    })
  }
}
