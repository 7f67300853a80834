import { resolve } from 'node:path'
import { createInterface } from 'node:readline/promises'
import type { Command } from '../command.js'
import { flagHelp, parseCommandArgs, usageError } from '../args.js'
import { checkMountpoint, controlClient, daemonRunning, homePaths, joinDevice, resolveConfig, runDaemon, spawnDaemon, type DeviceReport } from '../../daemon/index.js'
import { formatPolicy } from '../../config/parse.js'
import { homeHint, printJson, size } from '../output.js'
import { OPTIONS } from '../../config/defaults.js'
import { createProgress, progressMode } from '../progress.js'
import { catchUpSentence, watchCatchUp, type CatchUpResult } from '../catch-up.js'

const KEYS = ['home', 'name', 'capacityBytes', 'listen', 'mdns', 'dht', 'durability', 'allowNonEmpty', 'domain'] as const
const FLAGS = [
  { name: 'json', type: 'boolean' as const, help: 'Print the result as JSON.' },
  { name: 'mount', type: 'boolean' as const, help: 'Then mount the folder (at DIR when given after the code, else ~/palm), without asking.' },
  { name: 'serve', type: 'boolean' as const, help: 'Then only lend disk space: run as `palm serve` in the foreground, without asking.' }
]

type Next = 'mount' | 'serve' | 'none'

/** On a terminal: asks what to do next; Enter means mount, end of input (Ctrl-D) only joins. */
async function ask (mountpoint: string): Promise<Next> {
  const question = `Mount the folder at ${mountpoint} here [m], only lend this disk's space to the swarm [s], or nothing now [n]? [m/s/n] `
  // Lines are read from the iterator (rl.question drops a line typed ahead of its question).
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: false })
  try {
    process.stdout.write(question)
    for await (const line of rl) {
      const a = line.trim().toLowerCase()
      if (a === '' || a === 'm' || a === 'mount') return 'mount'
      if (a === 's' || a === 'serve') return 'serve'
      if (a === 'n' || a === 'no' || a === 'nothing') return 'none'
      process.stdout.write(`Answer m, s or n. ${question}`)
    }
    process.stdout.write('\n')
    return 'none'
  } finally {
    rl.close()
  }
}

/** Watches the journal catch up, with a progress bar (terminal), lines, or JSON lines on stderr. */
async function catchUp (home: string, json: boolean): Promise<CatchUpResult> {
  const progress = createProgress(progressMode(json))
  try {
    return await watchCatchUp(controlClient({ socketPath: homePaths(home).socket, timeoutMs: 10_000 }), { onProgress: progress.onProgress })
  } finally {
    progress.done()
  }
}

function joinedText (r: DeviceReport): string {
  return [
    `Joined swarm ${r.swarmId} in ${r.home}.`,
    `This device: ${r.deviceName} (${r.deviceId}), offering ${size(r.capacityBytes)}; swarm policy ${formatPolicy(r.policy)}.`
  ].join('\n') + '\n'
}

/** The first non-empty line of standard input (a pasted code). */
async function readCode (): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Paste the invite code and press Enter: ')
  let text = ''
  // Not destroyed on leaving the loop: on a terminal, join may ask what next on the same stdin.
  for await (const chunk of process.stdin.iterator({ destroyOnReturn: false })) {
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
  summary: 'Make this device a member of the swarm of an invite code, then mount or lend space',
  usage: () => `usage: palm join CODE|- [--mount [DIR] [--allow-non-empty] | --serve] [--home DIR] [--name NAME] [--capacity SIZE]

Give - as CODE to read the code from standard input, which keeps it out of process lists and shell
history. On a terminal, without --mount or --serve, it asks whether to mount the folder or only
lend disk space. Elsewhere (a script) it only joins unless one of them is given.

${flagHelp([...KEYS], FLAGS)}`,
  run: async (argv) => {
    // `--mount=DIR` is `--mount DIR`.
    const args = parseCommandArgs(argv.flatMap(a => a.startsWith('--mount=') ? ['--mount', a.slice(8)] : [a]), [...KEYS], FLAGS)
    const [given, dir, ...extra] = args.positionals
    const wantMount = args.flags.mount === true
    const wantServe = args.flags.serve === true
    const json = args.flags.json === true
    if (given == null || extra.length > 0 || (dir != null && !wantMount)) {
      throw usageError(dir != null && !wantMount && extra.length === 0
        ? `unexpected ${dir}: only \`--mount DIR\` takes a folder after the code`
        : 'needs exactly one invite code, or - to read it from standard input; get one with `palm invite` on a device of the swarm')
    }
    if (wantMount && wantServe) throw usageError('--mount and --serve exclude each other: mount the folder here, or only lend disk space')
    const code = given === '-' ? await readCode() : given
    const config = await resolveConfig(args.config, { noFile: true })
    // A mountpoint that cannot be right is refused before anything is made.
    if (wantMount) await checkMountpoint(resolve(dir ?? config.mountpoint), { allowNonEmpty: config.allowNonEmpty })
    const r = await joinDevice(config, code, args.config)
    const hint = homeHint(r.home, OPTIONS.home.default())
    // What next: a flag says; a terminal asks; a script only joins.
    const device = await resolveConfig({ home: r.home, ...(args.config.allowNonEmpty != null ? { allowNonEmpty: args.config.allowNonEmpty } : {}) })
    const mountpoint = dir ?? device.mountpoint
    let next: Next = wantMount ? 'mount' : wantServe ? 'serve' : 'none'
    if (!wantMount && !wantServe && !json && process.stdin.isTTY === true && process.stdout.isTTY === true) {
      process.stdout.write(joinedText(r))
      next = await ask(mountpoint)
    } else if (!json) {
      process.stdout.write(joinedText(r))
    }
    if (next === 'none') {
      if (json) printJson(r)
      else process.stdout.write(`Next: \`palm mount${hint}\` to mount the folder here, or \`palm serve${hint}\` to only lend disk space.\n`)
      return 0
    }
    if (next === 'mount') {
      const m = await spawnDaemon(device, mountpoint, args.config.allowNonEmpty === true ? ['--allow-non-empty'] : [])
      if (!json) process.stdout.write(`mounted: ${m.mountpoint} (daemon pid ${m.pid}, log ${m.logFile})\n`)
      const c = await catchUp(r.home, json)
      if (json) printJson({ ...r, mount: { path: m.mountpoint, pid: m.pid }, catchUp: c })
      else process.stdout.write(`${catchUpSentence(c, `palm status${hint}`)}\nStop with \`palm unmount${hint}\`.\n`)
      return 0
    }
    // Serve in the foreground (as `palm serve`); the catch-up is watched beside it.
    let ended = false
    const serving = runDaemon(device, {}).finally(() => { ended = true })
    const watch = (async () => {
      while (!await daemonRunning(homePaths(r.home).socket)) {
        if (ended) return
        await new Promise(resolve => setTimeout(resolve, 200))
      }
      const c = await catchUp(r.home, json)
      process.stderr.write(json ? `${JSON.stringify({ catchUp: c })}\n` : `${catchUpSentence(c, `palm status${hint}`)}\n`)
    })().catch(() => {}) // the daemon stopping ends the watch; nothing to report
    const exit = await serving
    await watch
    return exit
  }
}
