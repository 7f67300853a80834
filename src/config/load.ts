/**
 * Resolves the configuration: defaults < <home>/config.json < environment < flags. Every problem is
 * collected and reported at once in one InvalidConfigError.
 */
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { InvalidConfigError } from '../errors.js'
import { OPTIONS, type OptionKey, type OptionSpec, type PalmConfig } from './defaults.js'
import { parseBool, parseDuration, parsePolicy, parseSize } from './parse.js'

/** The file in the home that holds this device's persisted settings. */
export const CONFIG_FILE = 'config.json'

export interface LoadConfigInput {
  /** Values given on the command line, by option key (already split from argv). */
  flags?: Partial<Record<OptionKey, unknown>>
  /** Environment (default: process.env). */
  env?: Record<string, string | undefined>
  /** Skip reading <home>/config.json (e.g. before `palm init`). */
  noFile?: boolean
}

/** Converts one raw value (text, number, boolean, array) to the option's type, or undefined if invalid. */
export function coerce (spec: OptionSpec<unknown>, raw: unknown): unknown {
  switch (spec.type) {
    case 'string': return typeof raw === 'string' && raw.length > 0 ? raw : undefined
    case 'path': return typeof raw === 'string' && raw.length > 0 ? resolve(raw) : undefined
    case 'size': return typeof raw === 'string' || typeof raw === 'number' ? parseSize(raw) : undefined
    case 'duration': return typeof raw === 'string' || typeof raw === 'number' ? parseDuration(raw) : undefined
    case 'int': {
      const v = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw
      return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined
    }
    case 'bool': return typeof raw === 'string' || typeof raw === 'boolean' ? parseBool(raw) : undefined
    case 'policy': return typeof raw === 'string' || (typeof raw === 'object' && raw != null) ? parsePolicy(raw as string) : undefined
    case 'list': {
      if (Array.isArray(raw)) return raw.every(x => typeof x === 'string' && x.length > 0) ? raw : undefined
      if (typeof raw === 'string') return raw.split(',').map(s => s.trim()).filter(s => s.length > 0)
      return undefined
    }
    case 'enum': return typeof raw === 'string' && (spec.values ?? []).includes(raw) ? raw : undefined
  }
}

function describe (spec: OptionSpec<unknown>): string {
  switch (spec.type) {
    case 'size': return 'a size such as 10G or 500M'
    case 'duration': return 'a duration such as 5s or 200ms'
    case 'int': return 'a whole number'
    case 'bool': return 'true or false'
    case 'policy': return 'a policy such as 4-of-6 (1 ≤ k ≤ n ≤ 255)'
    case 'list': return 'a comma-separated list'
    case 'enum': return `one of ${(spec.values ?? []).join(', ')}`
    default: return 'a non-empty text'
  }
}

async function readConfigFile (home: string): Promise<Record<string, unknown>> {
  const path = join(home, CONFIG_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    if (err.code === 'ENOENT') return {}
    throw new InvalidConfigError(`cannot read ${path}: ${String(err.message)}; check its permissions`, { cause: err })
  }
  try {
    const value = JSON.parse(text)
    if (value == null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object')
    return value
  } catch (err: any) {
    throw new InvalidConfigError(`${path} is not valid JSON (${String(err.message)}); fix it or delete it to use the defaults`, { cause: err })
  }
}

/** Resolves every option. Throws one InvalidConfigError listing all problems. */
export async function loadConfig (input: LoadConfigInput = {}): Promise<PalmConfig> {
  const env = input.env ?? process.env
  const flags = input.flags ?? {}
  const problems: string[] = []
  const out: Record<string, unknown> = {}

  const pick = (key: OptionKey, file: Record<string, unknown>): unknown => {
    const spec = OPTIONS[key] as OptionSpec<unknown>
    const layers: Array<[string, unknown]> = [[`${CONFIG_FILE} "${key}"`, file[key]]]
    if (spec.env != null) layers.push([`environment ${spec.env}`, env[spec.env]])
    layers.push([spec.flag ?? `--${key}`, flags[key]])
    let value: unknown = spec.default()
    for (const [where, raw] of layers) {
      if (raw === undefined || raw === '') continue
      const v = coerce(spec, raw)
      if (v === undefined) problems.push(`${where}: "${String(raw)}" is not ${describe(spec)}`)
      else value = v
    }
    return value
  }

  out.home = pick('home', {})
  const file = input.noFile === true ? {} : await readConfigFile(out.home as string)
  for (const key of Object.keys(OPTIONS) as OptionKey[]) {
    if (key === 'home') continue
    out[key] = pick(key, file)
  }
  const c = out as PalmConfig
  if (c.workers < 1) problems.push(`workers must be at least 1 (got ${c.workers})`)
  if (c.fragmentFormat !== 1 && c.fragmentFormat !== 2) problems.push(`the fragment format must be 1 or 2 (got ${c.fragmentFormat})`)
  if (c.stripeSizeBytes < 4096 || c.stripeSizeBytes > 64 * 2 ** 20) problems.push(`stripe size must be between 4 KiB and 64 MiB (got ${c.stripeSizeBytes})`)
  if (c.readFailMs > c.opTimeoutMs) problems.push(`the read failure bound (${c.readFailMs} ms) must not exceed the operation deadline (${c.opTimeoutMs} ms)`)
  if (c.offlineAfterMs <= c.gossipIntervalMs) problems.push(`offlineAfterMs (${c.offlineAfterMs}) must exceed gossipIntervalMs (${c.gossipIntervalMs})`)
  if (problems.length > 0) {
    throw new InvalidConfigError(`invalid settings: ${problems.join('; ')}`, { details: { problems, usage: problems.every(p => p.startsWith('--')) } })
  }
  return c
}
