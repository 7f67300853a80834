import { writeFile } from 'node:fs/promises'
import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs, usageError } from '../args.js'
import { resolveConfig } from '../../daemon/index.js'
import { withControl } from '../control.js'
import { writeOut } from '../output.js'

const KEYS = ['home'] as const
const FLAGS = [{ name: 'output', type: 'string' as const, help: 'Write the fragment to this file instead of standard output.' }]

export const get: Command = {
  name: 'get',
  summary: 'Fetch one fragment by CID (from this device or the swarm), verified',
  usage: () => `usage: palm get CID [--home DIR] [--output FILE]\n\n${flagHelp([...KEYS], FLAGS)}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS], FLAGS)
    const cid = args.positionals[0]
    if (cid == null || args.positionals.length > 1) throw usageError('needs exactly one fragment CID; `palm info FILE` lists the CIDs of a file')
    const config = await resolveConfig(args.config)
    return await withControl(config, async (api) => {
      const bytes = await api.getFragment(cid)
      if (typeof args.flags.output === 'string') await writeFile(args.flags.output, bytes)
      else await writeOut(bytes).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EPIPE') throw err })
      return 0
    })
  }
}
