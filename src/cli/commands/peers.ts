import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs } from '../args.js'
import { resolveConfig } from '../../daemon/index.js'
import { withControl } from '../control.js'
import { ago, printJson, size } from '../output.js'

const KEYS = ['home'] as const
const FLAGS = [{ name: 'json', type: 'boolean' as const, help: 'Print the peers as JSON.' }]

export const peers: Command = {
  name: 'peers',
  summary: 'List the other devices of the swarm this device knows',
  usage: () => `usage: palm peers [--home DIR] [--json]\n\n${flagHelp([...KEYS], FLAGS)}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS], FLAGS)
    const config = await resolveConfig(args.config)
    return await withControl(config, async (api, remote) => {
      const list = await api.peers()
      if (args.flags.json === true) { printJson(list); return 0 }
      if (list.length === 0) {
        process.stdout.write(remote
          ? 'no other devices known yet: run `palm invite` here and `palm join CODE` on another device\n'
          : 'no daemon is running, so no devices are connected: start one with `palm mount` or `palm serve`\n')
      }
      for (const p of list) {
        process.stdout.write(`${p.online ? 'online ' : 'offline'}  ${p.name.padEnd(16)} ${size(p.usedBytes).padStart(10)} / ${size(p.capacityBytes).padEnd(10)} seen ${ago(p.lastSeenMs).padEnd(12)} ${p.id}  ${p.addrs.join(' ')}\n`)
      }
      return 0
    })
  }
}
