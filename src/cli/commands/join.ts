import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs, usageError } from '../args.js'
import { joinDevice, resolveConfig } from '../../daemon/index.js'
import { formatPolicy } from '../../config/parse.js'
import { homeHint, printJson, size } from '../output.js'
import { OPTIONS } from '../../config/defaults.js'

const KEYS = ['home', 'name', 'capacityBytes', 'listen', 'mdns', 'dht', 'durability'] as const
const FLAGS = [{ name: 'json', type: 'boolean' as const, help: 'Print the result as JSON.' }]

/** The first non-empty line of standard input (a pasted code). */
async function readCode (): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Paste the invite code and press Enter: ')
  let text = ''
  for await (const chunk of process.stdin) {
    text += String(chunk)
    const line = text.split('\n').map(l => l.trim()).find(l => l !== '')
    if (line != null && text.includes('\n')) return line
    if (text.length > 8192) break
  }
  const line = text.split('\n').map(l => l.trim()).find(l => l !== '')
  if (line == null) throw usageError('read no invite code from standard input; paste the line `palm invite` printed')
  return line
}

export const join: Command = {
  name: 'join',
  summary: 'Make this device a member of the swarm of an invite code',
  usage: () => `usage: palm join CODE|- [--home DIR] [--name NAME] [--capacity SIZE]\n\nGive - as CODE to read the code from standard input, which keeps it out of process lists and shell history.\n\n${flagHelp([...KEYS], FLAGS)}`,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [...KEYS], FLAGS)
    const given = args.positionals[0]
    if (given == null || args.positionals.length > 1) {
      throw usageError('needs exactly one invite code, or - to read it from standard input; get one with `palm invite` on a device of the swarm')
    }
    const code = given === '-' ? await readCode() : given
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
