import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs } from '../args.js'
import { initDevice, resolveConfig } from '../../daemon/index.js'
import { formatPolicy } from '../../config/parse.js'
import { homeHint, printJson, size } from '../output.js'
import { OPTIONS } from '../../config/defaults.js'

const KEYS = ['home', 'name', 'capacityBytes', 'policy', 'listen', 'mdns', 'dht', 'network', 'durability', 'domain'] as const
const FLAGS = [{ name: 'json', type: 'boolean' as const, help: 'Print the result as JSON.' }]

export const init: Command = {
  name: 'init',
  summary: 'Create a new swarm with this device in it',
  usage: () => `usage: palm init [--home DIR] [--name NAME] [--capacity SIZE] [--policy K-of-N]\n\n${flagHelp([...KEYS], FLAGS)}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS], FLAGS)
    const config = await resolveConfig(args.config, { noFile: true })
    const r = await initDevice(config, args.config)
    if (args.flags.json === true) { printJson(r); return 0 }
    process.stdout.write([
      `New swarm ${r.swarmId} created in ${r.home}.`,
      `This device: ${r.deviceName} (${r.deviceId}), offering ${size(r.capacityBytes)}.`,
      `Default policy: ${formatPolicy(r.policy)} (any ${r.policy.k} of ${r.policy.n} fragments rebuild a file).`,
      `Next: \`palm mount${homeHint(r.home, OPTIONS.home.default())}\` to mount ~/palm; \`palm invite${homeHint(r.home, OPTIONS.home.default())}\` prints a code for your other devices; \`palm demo start\` shows a whole swarm on this machine.`
    ].join('\n') + '\n')
    return 0
  }
}
