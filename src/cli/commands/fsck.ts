import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs } from '../args.js'
import { repairJournal, resolveConfig, type FsckReport, type JournalRebuild } from '../../daemon/index.js'
import type { PalmConfig } from '../../config/defaults.js'
import { withControl } from '../control.js'
import { printJson } from '../output.js'
import { createProgress, progressMode } from '../progress.js'

const KEYS = ['home'] as const
const FLAGS = [
  { name: 'json', type: 'boolean' as const, help: 'Print the report as JSON.' },
  { name: 'repair', type: 'boolean' as const, help: 'Rebuild a damaged journal from its signed op log, and this device\'s missing or corrupt fragments from k good ones of their stripe; lists what was rebuilt.' }
]
/** Most lines of one list printed (the JSON report has them all). */
const MAX_LINES = 200

function lines<T> (items: T[], line: (item: T) => string): void {
  for (const item of items.slice(0, MAX_LINES)) process.stdout.write(`${line(item)}\n`)
  if (items.length > MAX_LINES) process.stdout.write(`… and ${items.length - MAX_LINES} more (use --json for all)\n`)
}

function plural (n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** What to do about the problems that remain, one sentence per kind present. */
function remedies (r: FsckReport): string {
  const out: string[] = []
  if (r.counts.unreachable > 0) out.push('files marked unreachable read again once the devices named are back: start them and run `palm fsck` again')
  if (r.counts.missing + r.counts.corrupt > 0) out.push('`palm fsck --repair` rebuilds this device\'s missing or corrupt fragments where k good ones of the stripe are here')
  if (r.counts.unreadable > 0) out.push('unreadable stripes lack k fragments anywhere: restore the file from a backup')
  if (r.counts.orphan + r.counts.dangling + r.counts.nlink + r.counts.journal > 0) out.push('journal problems are listed above; orphans are purged at the next start')
  return out.join('; ')
}

function printText (r: FsckReport, repair: boolean): void {
  lines(r.problems, p => `${p.kind.padEnd(11)} ${p.file ?? (p.ino != null ? `inode ${p.ino}` : '')} ${p.cid ?? ''} ${p.detail}`.replace(/ {2,}/g, ' '))
  if (repair) {
    lines(r.repairs, x => `repaired    ${x.file ?? `inode ${x.ino}`} ${x.cid} ${x.detail}`)
    const files = new Set(r.repairs.map(x => x.file ?? `inode ${x.ino}`)).size
    process.stdout.write(r.repaired > 0
      ? `repaired ${plural(r.repaired, 'fragment')} of ${plural(files, 'file')}\n`
      : 'repaired nothing: no missing or corrupt fragment of this device had k good ones beside it\n')
  }
  const away = r.unreachedDevices.map(d => `${d.name} (${d.why})`).join(', ')
  const summary = Object.entries(r.counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ')
  process.stdout.write(r.clean
    ? `clean: ${r.stripesChecked} stripes, ${r.fragmentsChecked} fragments checked in ${r.durationMs} ms${r.unverifiedFragments > 0 ? `; every file is readable, but ${plural(r.unverifiedFragments, 'fragment')} on ${away} could not be checked` : ''}\n`
    : `NOT clean: ${summary}. ${remedies(r)}.\n`)
}

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
    const progress = createProgress(progressMode(args.flags.json === true))
    try {
      r = await check(config, repair, progress.onProgress).finally(progress.done)
    } catch (err) {
      // The journal's database is damaged: the daemon refuses it. Report it, or rebuild it first.
      if (!(err instanceof Error) || err.name !== 'JournalDamagedError') throw err
      if (!repair) {
        r = damagedReport(err.message)
      } else {
        rebuilt = await repairJournal(config)
        r = { ...await check(config, repair, progress.onProgress).finally(progress.done), journalRebuilt: { ops: rebuilt.read, applied: rebuilt.applied, rejected: rebuilt.rejected, keptAt: rebuilt.keptAt } }
      }
    }
    if (args.flags.json === true) {
      printJson(r)
    } else {
      if (rebuilt != null) {
        process.stdout.write(`journal    rebuilt from its op log: ${rebuilt.applied} of ${rebuilt.read} ops applied${rebuilt.rejected > 0 ? `, ${rebuilt.rejected} rejected (${rebuilt.firstReason ?? ''})` : ''}; the damaged copy is kept in ${rebuilt.keptAt.join(', ')}\n`)
      }
      printText(r, repair)
    }
    return r.clean ? 0 : 1
  }
}

async function check (config: PalmConfig, repair: boolean, onProgress: ReturnType<typeof createProgress>['onProgress']): Promise<FsckReport> {
  return await withControl(config, async (api) => await api.fsck({ repair, onProgress }))
}

/** The report for a journal whose database the daemon refused: nothing else could be checked. */
function damagedReport (message: string): FsckReport {
  return {
    clean: false,
    stripesChecked: 0,
    fragmentsChecked: 0,
    problems: [{ kind: 'journal', detail: message }],
    counts: { missing: 0, corrupt: 0, orphan: 0, dangling: 0, nlink: 0, unreadable: 0, unreachable: 0, journal: 1 },
    garbageFragments: 0,
    unverifiedFragments: 0,
    unreachedDevices: [],
    repaired: 0,
    repairs: [],
    durationMs: 0
  }
}
