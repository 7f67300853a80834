#!/usr/bin/env node
/**
 * The `palm` command: a thin client of the control API (src/daemon/index.ts). One file per command in
 * src/cli/commands/. Errors print as one line with what to do; DEBUG=palm:* adds stack traces.
 */
import '../util/polyfill.js'
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Command } from './command.js'
import { quietOnClosedPipe, reportError } from './output.js'
import { COMMANDS } from './commands/index.js'

function help (): string {
  const width = Math.max(...COMMANDS.map(c => c.name.length))
  return [
    'palm: this LAN\'s spare disks as one private, fault-tolerant folder',
    '',
    'usage: palm COMMAND [ARGS]',
    '',
    ...COMMANDS.map(c => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    '`palm help COMMAND` shows a command\'s flags; `palm help settings` lists every setting.'
  ].join('\n')
}

export async function main (argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name == null || name === '--help' || name === '-h') {
    process.stdout.write(help() + '\n')
    return name == null ? 2 : 0
  }
  if (name === '--version' || name === 'version') {
    const { readFile } = await import('node:fs/promises')
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8'))
    process.stdout.write(`palm ${String(pkg.version)}\n`)
    return 0
  }
  if (name === 'help') {
    const topic = rest[0]
    if (topic == null) { process.stdout.write(help() + '\n'); return 0 }
    if (topic === 'settings') {
      // A table to read on a terminal; Markdown (as in the README) into a pipe or file, or with --markdown.
      const { settingsHelp, settingsTable } = await import('./settings-help.js')
      const tty = process.stdout.isTTY && !rest.includes('--markdown')
      process.stdout.write((tty ? settingsTable(process.stdout.columns ?? 100) : settingsHelp()) + '\n')
      return 0
    }
    const cmd = COMMANDS.find(c => c.name === topic)
    if (cmd == null) { process.stderr.write(`palm: no command "${topic}"; see \`palm help\`\n`); return 2 }
    process.stdout.write(cmd.usage() + '\n')
    return 0
  }
  const cmd: Command | undefined = COMMANDS.find(c => c.name === name)
  if (cmd == null) {
    process.stderr.write(`palm: no command "${name}"; see \`palm help\`\n`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(cmd.usage() + '\n')
    return 0
  }
  try {
    return await cmd.run(rest)
  } catch (err) {
    return reportError(err, cmd.name)
  }
}

function isEntryPoint (): boolean {
  try {
    return process.argv[1] != null && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (isEntryPoint()) {
  quietOnClosedPipe()
  main(process.argv.slice(2)).then(code => { process.exitCode = code }, err => { process.exitCode = reportError(err) })
}
