import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs, usageError } from '../args.js'
import { joinDevice, resolveConfig } from '../../daemon/index.js'
import { formatPolicy } from '../../config/parse.js'
import { homeHint, printJson, size } from '../output.js'
import { OPTIONS } from '../../config/defaults.js'

const KEYS = ['home', 'name', 'capacityBytes', 'listen', 'mdns', 'dht', 'durability'] as const
const FLAGS = [{ name: 'json', type: 'boolean' as const, help: 'Print the result as JSON.' }]

export const join: Command = {
  name: 'join',
  summary: 'Make this device a member of the swarm of an invite code',
  usage: () => `usage: palm join CODE [--home DIR] [--name NAME] [--capacity SIZE]\n\n${flagHelp([...KEYS], FLAGS)}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS], FLAGS)
    const code = args.positionals[0]
    if (code == null || args.positionals.length > 1) {
      throw usageError('needs exactly one invite code; get one with `palm invite` on a device of the swarm')
    }
    const config = await resolveConfig(args.config, { noFile: true })
    const r = await joinDevice(config, code, args.config)
    if (args.flags.json === true) { printJson(r); return 0 }
    process.stdout.write([
      `Joined swarm ${r.swarmId} in ${r.home}.`,
      `This device: ${r.deviceName} (${r.deviceId}), offering ${size(r.capacityBytes)}; swarm policy ${formatPolicy(r.policy)}.`,
      `Next: \`palm mount${homeHint(r.home, OPTIONS.home.default())}\` to mount the folder here, or \`palm serve${homeHint(r.home, OPTIONS.home.default())}\` to only lend disk space.`
    ].join('\n') + '\n')
    return 0
  }
}
