import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs, usageError } from '../args.js'
import { printJson } from '../output.js'
import { DEMO_ACTIONS, demoAction, demoDir, demoStatus, startDemo, stopDemo, type DemoAction, type DemoState } from '../../demo/index.js'

const FLAGS = [
  { name: 'devices', type: 'string' as const, help: 'How many devices (3 to 12; default 6).' },
  { name: 'dir', type: 'string' as const, help: 'Where the demo keeps its devices and folder (default $PALM_DEMO_DIR or ~/.palm-demo).' },
  { name: 'foreground', type: 'boolean' as const, help: 'Stay in the foreground; Ctrl-C stops the demo and removes everything it made.' },
  { name: 'json', type: 'boolean' as const, help: 'Print the result as JSON.' }
]

const USAGE = `usage: palm demo start [--devices N] [--dir DIR] [--json] [--foreground]
       palm demo kill|revive|hang|partition|corrupt DEVICE [--dir DIR]
       palm demo status [--dir DIR] [--json]
       palm demo stop [--dir DIR]

A swarm of N devices on this machine, to watch and break: every file survives the loss of n − k
devices. \`start\` mounts a folder and prints it and the status page.

${flagHelp([], FLAGS)}`

function showStatus (s: DemoState): string {
  const lines = [`folder  ${s.folder}`, `page    ${s.page ?? '(none)'}`, `policy  ${s.policy.k}-of-${s.policy.n}: any ${s.policy.k} fragments rebuild a stripe, so up to ${s.policy.n - s.policy.k} devices may be gone`, 'devices']
  for (const d of s.devices) lines.push(`  ${d.name.padEnd(4)} ${d.state.padEnd(8)} ${d.role === 'mount' ? 'mount + page' : 'storage'}  pid ${d.pid}  home ${d.home}`)
  return lines.join('\n')
}

export const demo: Command = {
  name: 'demo',
  summary: 'Start a swarm of devices on this machine to watch and break (kill, hang, corrupt, revive), then stop it',
  usage: () => USAGE,
  run: async (argv) => {
    const args = parseCommandArgs(argv, [], FLAGS)
    const [verb, target, ...extra] = args.positionals
    const dir = demoDir(typeof args.flags.dir === 'string' ? args.flags.dir : undefined)
    const json = args.flags.json === true
    if (extra.length > 0) throw usageError(`unexpected ${extra.join(' ')}`)
    if (verb === 'start') {
      const devices = args.flags.devices == null ? 6 : Number(args.flags.devices)
      const say = json ? undefined : (line: string): void => { process.stderr.write(`${line}\n`) }
      const s = await startDemo({ dir, devices, say })
      if (json) printJson({ folder: s.folder, page: s.page, devices: s.devices.map(d => d.name) })
      else {
        process.stdout.write([
          `A ${s.devices.length}-device swarm runs, policy ${s.policy.k}-of-${s.policy.n}.`,
          `folder  ${s.folder}`,
          `page    ${s.page ?? '(none)'}`,
          '',
          'Try:',
          `  cat ${s.folder}/welcome.txt`,
          `  palm demo kill d2 && palm demo kill d3     # ${s.policy.n - s.policy.k} devices gone: files still read`,
          '  palm demo corrupt d4                        # a damaged fragment is caught by its CID',
          '  palm demo revive d2; palm demo status',
          '  palm demo stop                              # removes everything the demo made',
          ''
        ].join('\n'))
      }
      if (args.flags.foreground !== true) return 0
      process.stderr.write('running in the foreground: Ctrl-C stops the demo\n')
      await new Promise<void>(resolve => { process.once('SIGINT', resolve); process.once('SIGTERM', resolve) })
      for (const line of await stopDemo(dir)) process.stderr.write(`${line}\n`)
      return 0
    }
    if (verb === 'status') {
      const s = await demoStatus(dir)
      if (json) printJson(s)
      else process.stdout.write(showStatus(s) + '\n')
      return 0
    }
    if (verb === 'stop') {
      for (const line of await stopDemo(dir)) process.stdout.write(`${line}\n`)
      return 0
    }
    if (DEMO_ACTIONS.includes(verb as DemoAction)) {
      if (target == null) throw usageError(`${verb} needs a DEVICE (d1, d2, …; see \`palm demo status\`)`)
      process.stdout.write(await demoAction(dir, verb as DemoAction, target) + '\n')
      return 0
    }
    throw usageError(verb == null ? 'needs a verb: start, status, kill, revive, hang, partition, corrupt or stop' : `no demo verb "${verb}"; the verbs are start, status, ${DEMO_ACTIONS.join(', ')}, stop`)
  }
}
