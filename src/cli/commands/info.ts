import { isAbsolute, relative, resolve } from 'node:path'
import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs, usageError } from '../args.js'
import { resolveConfig, type FileInfo } from '../../daemon/index.js'
import { withControl } from '../control.js'
import { printJson, size } from '../output.js'
import { InvalidArgumentError } from '../../errors.js'

const KEYS = ['home'] as const
const FLAGS = [{ name: 'json', type: 'boolean' as const, help: 'Print the file\'s stripes, fragments and holders as JSON.' }]

/**
 * The path inside the folder: a path under the mount (absolute, or relative from a working directory
 * inside it) loses the mount's prefix; any other relative path is taken from the folder's root.
 */
export function folderPath (arg: string, mountpoint: string | null, cwd = process.cwd()): string {
  if (mountpoint != null) {
    const full = resolve(cwd, arg)
    const inside = relative(mountpoint, full)
    if (inside === '' || (!inside.startsWith('..') && !isAbsolute(inside))) {
      if (isAbsolute(arg) || !relative(mountpoint, cwd).startsWith('..')) return '/' + inside
    }
  }
  if (isAbsolute(arg)) {
    throw new InvalidArgumentError(`${arg} is not inside the PALM folder${mountpoint != null ? ` (${mountpoint})` : ' (it is not mounted)'}; give a path in it, or one relative to its root such as docs/a.txt`)
  }
  return '/' + arg
}

function holders (f: FileInfo['stripes'][number]['fragments'][number]): string {
  return f.holders.map(h => `${h.name}${h.self ? ' (this device)' : h.online ? '' : ' (offline)'}`).join(', ')
}

export function formatInfo (info: FileInfo): string {
  const lines = [
    info.path,
    `  type     ${info.type}`,
    `  size     ${size(info.size)} (${info.size} bytes)`,
    `  policy   ${info.policy} (any ${info.policy.split('-of-')[0]} fragments of a stripe rebuild it)`,
    `  health   ${info.health.text}`,
    `  stripes  ${info.stripes.length}`
  ]
  for (const s of info.stripes) {
    lines.push(`  stripe ${s.index} (${size(s.length)})`)
    for (const f of s.fragments) lines.push(`    ${String(f.index).padStart(3)}  ${f.cid}  ${holders(f)}`)
  }
  if (info.stripes.length > 0) lines.push('`palm get CID` fetches one fragment (verified against its CID).')
  return lines.join('\n')
}

export const info: Command = {
  name: 'info',
  summary: 'Show a file\'s size, policy, health, and each stripe\'s fragment CIDs and the devices holding them',
  usage: () => `usage: palm info PATH [--home DIR] [--json]\n\nPATH is a file in the mounted folder, or a path from the folder's root (docs/a.txt).\n\n${flagHelp([...KEYS], FLAGS)}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS], FLAGS)
    if (args.positionals.length !== 1) throw usageError('needs exactly one PATH (a file in the PALM folder)')
    const config = await resolveConfig(args.config)
    return await withControl(config, async (api) => {
      const mount = (await api.status()).mount.path
      const r = await api.info(folderPath(args.positionals[0], mount))
      if (args.flags.json === true) printJson(r)
      else process.stdout.write(formatInfo(r) + '\n')
      return 0
    })
  }
}
