/**
 * Command-line parsing: the flags of the option table (config/defaults.ts) plus each command's own.
 */
import { parseArgs } from 'node:util'
import { InvalidArgumentError } from '../errors.js'
import { OPTIONS, type OptionKey } from '../config/defaults.js'

export interface CommandFlag {
  name: string
  type: 'string' | 'boolean'
  multiple?: boolean
  help: string
}

export interface ParsedArgs {
  /** Option-table values given as flags, by option key. */
  config: Partial<Record<OptionKey, unknown>>
  /** The command's own flags. */
  flags: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
}

/** Parses argv for a command that accepts `configKeys` from the option table and its own `flags`. */
export function parseCommandArgs (argv: string[], configKeys: OptionKey[], flags: CommandFlag[] = []): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean', multiple?: boolean }> = {}
  const keyOfFlag = new Map<string, OptionKey>()
  for (const key of configKeys) {
    const flag = OPTIONS[key].flag
    if (flag == null) continue
    const name = flag.replace(/^--/, '')
    const isBool = OPTIONS[key].type === 'bool'
    options[name] = OPTIONS[key].type === 'list' ? { type: 'string', multiple: true } : { type: isBool ? 'boolean' : 'string' }
    keyOfFlag.set(name, key)
  }
  for (const f of flags) options[f.name] = f.multiple === true ? { type: f.type, multiple: true } : { type: f.type }
  let parsed
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (err: any) {
    throw parseFailure(err, options, argv)
  }
  const out: ParsedArgs = { config: {}, flags: {}, positionals: parsed.positionals }
  for (const [name, value] of Object.entries(parsed.values)) {
    const key = keyOfFlag.get(name)
    if (key != null) out.config[key] = value
    else out.flags[name] = value as any
  }
  return out
}

/**
 * A usage error: one line, exit code 2 (see `reportError`). `palm COMMAND` is put in front of the
 * message by main.ts, which knows the command.
 */
export function usageError (message: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(message, { cause, details: { usage: true } })
}

/** True for an error that means "the command line is wrong" (exit code 2). */
export function isUsageError (err: unknown): boolean {
  return (err as any)?.details?.usage === true
}

/** node:util parseArgs's multi-line messages, said as one line that names the command's valid flags. */
function parseFailure (err: any, options: Record<string, { type: 'string' | 'boolean' }>, argv: string[]): InvalidArgumentError {
  const valid = [...Object.keys(options).map(n => `--${n}`), '--help'].join(', ')
  const message = String(err?.message ?? err)
  const unknown = /Unknown option '([^']+)'/.exec(message)
  if (unknown != null) return usageError(`unknown flag ${unknown[1]}; valid flags: ${valid}`, err)
  const missing = /Option '([^']+?)(?: <value>)?' argument missing/.exec(message)
  if (missing != null) return usageError(`${missing[1].replace(/^-\w, /, '')} needs a value`, err)
  const ambiguous = /Option '([^']+?)(?: <value>)?' argument is ambiguous/.exec(message)
  if (ambiguous != null) {
    const flag = ambiguous[1].replace(/^-\w, /, '')
    const value = argv[argv.indexOf(flag) + 1] ?? ''
    return usageError(`${flag} ${value}: a value starting with "-" cannot be right here (no setting takes a negative number); give e.g. ${flag} 10G`.replace(' 10G', flag === '--capacity' ? ' 10G' : ' VALUE'), err)
  }
  const positional = /Unexpected argument '([^']+)'/.exec(message)
  if (positional != null) return usageError(`unexpected argument ${positional[1]}`, err)
  return usageError(message.split('\n')[0], err)
}

/** Usage text for a command's flags. */
export function flagHelp (configKeys: OptionKey[], flags: CommandFlag[] = []): string {
  const lines: string[] = []
  for (const key of configKeys) {
    const spec = OPTIONS[key]
    if (spec.flag == null) continue
    const arg = spec.type === 'bool' ? '' : spec.type === 'size' ? ' SIZE' : spec.type === 'policy' ? ' K-of-N' : ' VALUE'
    lines.push(`  ${(spec.flag + arg).padEnd(26)} ${spec.help}`)
  }
  for (const f of flags) lines.push(`  ${('--' + f.name + (f.type === 'string' ? ' VALUE' : '')).padEnd(26)} ${f.help}`)
  return lines.join('\n')
}
