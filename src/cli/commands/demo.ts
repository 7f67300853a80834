import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs, usageError } from '../args.js'
import { printJson } from '../output.js'
import { DEMO_ACTIONS, demoAction, demoDir, demoStatus, startDemo, stopDemo, type DemoAction, type DemoState } from '../../demo/index.js'

const FLAGS = [
  { name: 'devices', type: 'string' as const, help: 'How many devices (3 to 12; default 6).' },
  { name: 'dir', type: 'string' as const, help: 'Where the demo keeps its devices and folder (default $PALM_DEMO_DIR or ~/.palm-demo).' },
  { name: 'foreground', type: 'boolean' as const, help: 'Stay in the foreground; Ctrl-C stops the demo and removes everything it made.' },
  { name: 'loopback', type: 'boolean' as const, help: 'Run every device on 127.0.0.1 even as root (default as root: one network namespace per device, found by mDNS).' },
  { name: 'json', type: 'boolean' as const, help: 'Print the result as JSON.' }
]

const USAGE = `usage: palm demo start [--devices N] [--dir DIR] [--json] [--foreground] [--loopback]
       palm demo kill|revive|hang|partition|heal|corrupt DEVICE [--dir DIR]
       palm demo status [--dir DIR] [--json]
       palm demo stop [--dir DIR]

A swarm of N devices on this machine, to watch and break: every file survives the loss of n − k
devices. \`start\` mounts a folder and prints it and the status page. As root every device gets its
own network namespace on one bridge (a real LAN: mDNS finds the devices, \`partition\` cuts one off
and \`heal\` puts it back); otherwise all run over loopback. \`revive\` undoes kill, hang and partition.

${flagHelp([], FLAGS)}`

function showStatus (s: DemoState): string {
  const lines = [`folder  ${s.folder}`, `page    ${s.page ?? '(none)'}`, `network ${s.mode === 'netns' ? `a LAN of network namespaces (${s.lan?.prefix ?? '?'}-*), mDNS` : 'loopback'}`, `policy  ${s.policy.k}-of-${s.policy.n}: any ${s.policy.k} fragments rebuild a stripe, so up to ${s.policy.n - s.policy.k} devices may be gone`, 'devices']
  for (const d of s.devices) lines.push(`  ${d.name.padEnd(4)} ${(d.partitioned === true ? `${d.state}, cut off` : d.state).padEnd(16)} ${d.role === 'mount' ? 'mount + page' : 'storage'}  pid ${d.pid}  home ${d.home}`)
  return lines.join('\n')
}

/** What to try, as commands to copy (with --dir when it is not the default), each with its lesson. */
function hints (s: DemoState, dirFlag: string): string[] {
  const spare = s.devices.filter(d => d.role === 'serve').map(d => d.name)
  const [a, b, c] = spare
  const last = spare[spare.length - 1]
  const rows: Array<[string, string]> = [
    [`palm demo kill ${a}${dirFlag} && palm demo kill ${b}${dirFlag}`, `${s.policy.n - s.policy.k} devices gone: files still read`],
    ...(s.mode === 'netns' ? [[`palm demo partition ${last}${dirFlag}`, 'cut a device off the LAN (`heal` puts it back)'] as [string, string]] : []),
    [`palm demo corrupt ${c ?? a}${dirFlag}`, 'a damaged fragment is caught by its CID'],
    [`palm demo revive ${a}${dirFlag}; palm demo status${dirFlag}`, 'back online; the page shows it live'],
    [`palm demo stop${dirFlag}`, 'removes everything the demo made']
  ]
  const width = Math.max(...rows.map(r => r[0].length))
  return rows.map(([cmd, why]) => `  ${cmd.padEnd(width)}  # ${why}`)
}

export const demo: Command = {
  name: 'demo',
  summary: 'Start a swarm of devices on this machine to watch and break (kill, hang, partition, corrupt, revive), then stop it',
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
      // In the foreground, Ctrl-C while starting also ends in a stop (once the start returns).
      const interrupted = args.flags.foreground === true
        ? new Promise<void>(resolve => { process.once('SIGINT', resolve); process.once('SIGTERM', resolve) })
        : undefined
      const s = await startDemo({ dir, devices, say, loopback: args.flags.loopback === true })
      if (json) printJson({ folder: s.folder, page: s.page, devices: s.devices.map(d => d.name) })
      else {
        process.stdout.write([
          `A ${s.devices.length}-device swarm runs ${s.mode === 'netns' ? 'on a LAN of network namespaces' : 'over loopback'}, policy ${s.policy.k}-of-${s.policy.n}.`,
          `folder  ${s.folder}`,
          `page    ${s.page ?? '(none)'}`,
          '',
          'Try:',
          `  cat ${s.folder}/welcome.txt`,
          ...hints(s, dir === demoDir(undefined) ? '' : ` --dir ${dir}`),
          ''
        ].join('\n'))
      }
      if (interrupted == null) return 0
      process.stderr.write('running in the foreground: Ctrl-C stops the demo\n')
      // A signal listener alone does not keep node running: a timer does, until Ctrl-C.
      const keepAlive = setInterval(() => {}, 1 << 30)
      await interrupted
      clearInterval(keepAlive)
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
    throw usageError(verb == null ? 'needs a verb: start, status, kill, revive, hang, partition, heal, corrupt or stop' : `no demo verb "${verb}"; the verbs are start, status, ${DEMO_ACTIONS.join(', ')}, stop`)
  }
}
