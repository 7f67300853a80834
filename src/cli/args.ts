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
    throw new InvalidArgumentError(`${String(err.message)}; see \`palm help\``, { cause: err })
  }
  const out: ParsedArgs = { config: {}, flags: {}, positionals: parsed.positionals }
  for (const [name, value] of Object.entries(parsed.values)) {
    const key = keyOfFlag.get(name)
    if (key != null) out.config[key] = value
    else out.flags[name] = value as any
  }
  return out
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
