import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs } from '../args.js'
import { resolveConfig } from '../../daemon/index.js'
import { withControl } from '../control.js'
import type { StatusReport } from '../../daemon/control-api.js'
import { ago, printJson, size } from '../output.js'
import { printable } from '../../util/printable.js'

const KEYS = ['home'] as const
const FLAGS = [{ name: 'json', type: 'boolean' as const, help: 'Print the status as JSON.' }]

/** "journal 12 ops behind  " for a peer whose journal vector is known, else "". */
function journalLag (p: StatusReport['peers'][number]): string {
  const j = p.journal
  if (j == null || !j.vectorKnown) return ''
  return j.lagOps === 0 ? 'journal in sync  ' : `journal ${j.lagOps} ops behind  `
}

/** "repair     …": stripes below n by margin, work left, rate, gone devices, last scrub, bad copies found; undefined without a pool. */
function repairLine (s: StatusReport): string | undefined {
  const r = s.repair
  if (r == null) return undefined
  const b = r.stripesBelowN
  const below = b.atK + b.atK1 + b.more
  const gone = r.devices.filter(d => d.state === 'gone').map(d => d.name)
  const parts = [
    below === 0 ? 'every stripe at n' : `${below} stripes below n (${b.atK} at k, ${b.atK1} at k+1, ${b.more} more), ${size(r.bytesToMove)} to rebuild`,
    ...(b.unreadable > 0 ? [`${b.unreadable} unreadable until devices return`] : []),
    ...(r.rateBytesPerSec > 0 ? [`${size(r.rateBytesPerSec)}/s`] : []),
    ...(gone.length > 0 ? [`gone: ${gone.join(', ')}`] : []),
    r.lastScrub == null ? 'no scrub yet' : `last scrub ${ago(Math.max(0, Date.now() - r.lastScrub.atMs))} (${r.lastScrub.checked} checked, ${r.lastScrub.corrupt + r.lastScrub.unreadable} bad)`,
    ...(r.scrubBadFound + r.readBadFound > 0 ? [`${r.scrubBadFound + r.readBadFound} bad fragments found since start (${r.scrubBadFound} by scrub, ${r.readBadFound} by reads), rebuilt`] : [])
  ]
  return `repair     ${parts.join('; ')}`
}

export function formatStatus (s: StatusReport): string {
  const lines = [
    `device     ${s.device.name} (${s.device.id})`,
    `swarm      ${s.swarm.id}, policy ${s.policy.k}-of-${s.policy.n}`,
    `mount      ${s.mount.path ?? 'not mounted'}${s.daemon.running ? `, daemon pid ${String(s.daemon.pid)}` : ', no daemon running'}`,
    `files      ${s.files} files, ${s.dirs} folders, ${size(s.logicalBytes)}`,
    `this disk  ${size(s.usedBytes)} used of ${size(s.capacityBytes)} offered (${s.fragments} fragments)`,
    `usable     ${size(s.usableFreeBytes)} free of ${size(s.usableCapacityBytes)}`,
    `protection ${s.protection}`
  ]
  if (s.replication != null) lines.push(`journal    ${s.replication.opsHeld} ops from ${s.replication.authors} devices (every device keeps them all)`)
  if (s.journal?.ok === false) {
    // Damage found in the journal's files, or answered changes at risk: never silent.
    for (const p of s.journal.problems) lines.push(`journal    ${p}`)
  }
  if (s.daemon.dashboard != null) lines.push(`page       ${s.daemon.dashboard}`)
  const missing = s.missingDevices ?? []
  if (missing.length > 0) {
    lines.push(`missing    ${missing.map(d => `${d.name === '' ? d.id : d.name} (seen ${ago(d.lastSeenMs)})`).join(', ')}: expected back; reads that need them wait for them${s.daemon.starting === true ? ' (still looking for them)' : ''}`)
  }
  const repair = repairLine(s)
  if (repair != null) lines.push(repair)
  for (const l of s.spotCheck?.liars ?? []) {
    lines.push(`liar       ${printable(l.id, 80)} ${printable(l.reason)} (fragment ${printable(l.cid, 80)}): placement no longer uses it and its fragments are rebuilt; check that device, then \`palm remove\` it if it is not yours`)
  }
  if (s.peers.length > 0) {
    lines.push('peers')
    for (const p of s.peers) {
      lines.push(`  ${p.online ? 'online ' : 'offline'}  ${p.name.padEnd(16)} ${size(p.usedBytes)} / ${size(p.capacityBytes)}  seen ${ago(p.lastSeenMs)}  ${journalLag(p)}${p.id}`)
    }
  }
  return lines.join('\n')
}

export const status: Command = {
  name: 'status',
  summary: 'Show this device, the swarm, capacity and protection',
  usage: () => `usage: palm status [--home DIR] [--json]\n\n${flagHelp([...KEYS], FLAGS)}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS], FLAGS)
    const config = await resolveConfig(args.config)
    return await withControl(config, async (api) => {
      const s = await api.status()
      if (args.flags.json === true) printJson(s)
      else process.stdout.write(formatStatus(s) + '\n')
      return 0
    })
  }
}
