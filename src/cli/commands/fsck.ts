import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs } from '../args.js'
import { repairJournal, resolveConfig, type FsckReport, type JournalRebuild } from '../../daemon/index.js'
import type { PalmConfig } from '../../config/defaults.js'
import { withControl } from '../control.js'
import { printJson } from '../output.js'

const KEYS = ['home'] as const
const FLAGS = [
  { name: 'json', type: 'boolean' as const, help: 'Print the report as JSON.' },
  { name: 'repair', type: 'boolean' as const, help: 'Rebuild a damaged journal from its signed op log, and missing or corrupt fragments from the stripe\'s other fragments.' }
]

export const fsck: Command = {
  name: 'fsck',
  summary: 'Check the journal against the stored fragments (exit 0 only when clean)',
  usage: () => `usage: palm fsck [--home DIR] [--json] [--repair]\n\n${flagHelp([...KEYS], FLAGS)}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS], FLAGS)
    const config = await resolveConfig(args.config)
    const repair = args.flags.repair === true
    let rebuilt: JournalRebuild | undefined
    let r: FsckReport
    try {
      r = await check(config, repair)
    } catch (err) {
      // The journal's database is damaged: the daemon refuses it. Report it, or rebuild it first.
      if (!(err instanceof Error) || err.name !== 'JournalDamagedError') throw err
      if (!repair) {
        r = damagedReport(err.message)
      } else {
        rebuilt = await repairJournal(config)
        r = { ...await check(config, repair), journalRebuilt: { ops: rebuilt.read, applied: rebuilt.applied, rejected: rebuilt.rejected, keptAt: rebuilt.keptAt } }
      }
    }
    if (args.flags.json === true) {
      printJson(r)
    } else {
      if (rebuilt != null) {
        process.stdout.write(`journal    rebuilt from its op log: ${rebuilt.applied} of ${rebuilt.read} ops applied${rebuilt.rejected > 0 ? `, ${rebuilt.rejected} rejected (${rebuilt.firstReason ?? ''})` : ''}; the damaged copy is kept in ${rebuilt.keptAt.join(', ')}\n`)
      }
      for (const p of r.problems.slice(0, 200)) {
        process.stdout.write(`${p.kind.padEnd(10)} ${p.file ?? (p.ino != null ? `inode ${p.ino}` : '')} ${p.cid ?? ''} ${p.detail}\n`)
      }
      if (r.problems.length > 200) process.stdout.write(`… and ${r.problems.length - 200} more (use --json for all)\n`)
      const summary = Object.entries(r.counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ')
      process.stdout.write(r.clean
        ? `clean: ${r.stripesChecked} stripes, ${r.fragmentsChecked} fragments checked in ${r.durationMs} ms\n`
        : `NOT clean: ${summary}. \`palm fsck --repair\` rebuilds a damaged journal from its op log and what k remaining fragments allow; fragments of offline devices come back with them.\n`)
    }
    return r.clean ? 0 : 1
  }
}

async function check (config: PalmConfig, repair: boolean): Promise<FsckReport> {
  return await withControl(config, async (api) => await api.fsck({ repair }))
}

/** The report for a journal whose database the daemon refused: nothing else could be checked. */
function damagedReport (message: string): FsckReport {
  return {
    clean: false,
    stripesChecked: 0,
    fragmentsChecked: 0,
    problems: [{ kind: 'journal', detail: message }],
    counts: { missing: 0, corrupt: 0, orphan: 0, dangling: 0, nlink: 0, unreadable: 0, journal: 1 },
    garbageFragments: 0,
    repaired: 0,
    durationMs: 0
  }
}
