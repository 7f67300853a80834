/** `palm help settings`: every option of the table, as the README's settings section shows it. */
import { OPTIONS, type OptionKey } from '../config/defaults.js'
import { formatPolicy, formatSize } from '../config/parse.js'

function show (key: OptionKey): string {
  const spec = OPTIONS[key]
  const d: unknown = spec.default()
  if (spec.type === 'size' && typeof d === 'number') return d === 0 ? '0' : formatSize(d)
  if (spec.type === 'policy') return formatPolicy(d as { k: number, n: number })
  if (spec.type === 'duration' && typeof d === 'number') return d % 1000 === 0 ? `${d / 1000}s` : `${d}ms`
  if (Array.isArray(d)) return d.join(',')
  return String(d)
}

function defaultText (key: OptionKey): string {
  return key === 'home' ? '~/.palm' : key === 'mountpoint' ? '~/palm' : key === 'name' ? 'host name' : key === 'workers' ? 'CPU cores' : show(key)
}

function wrap (text: string, width: number, indent: string): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/)) {
    if (line.length > 0 && indent.length + line.length + 1 + word.length > width) { lines.push(indent + line); line = word } else line = line.length > 0 ? `${line} ${word}` : word
  }
  if (line.length > 0) lines.push(indent + line)
  return lines
}

/**
 * The settings as a terminal reads them: aligned columns (setting, default, flag, environment)
 * and each meaning wrapped below its row, to `width` columns.
 */
export function settingsTable (width: number): string {
  const keys = Object.keys(OPTIONS) as OptionKey[]
  const rows = [['SETTING', 'DEFAULT', 'FLAG', 'ENVIRONMENT'], ...keys.map(k => [k, defaultText(k), OPTIONS[k].flag ?? '-', OPTIONS[k].env ?? '-'])]
  const widths = [0, 1, 2].map(i => Math.max(...rows.map(r => r[i].length)))
  const out: string[] = []
  rows.forEach((r, i) => {
    out.push(r.map((cell, j) => j < 3 ? cell.padEnd(widths[j]) : cell).join('  ').trimEnd())
    if (i > 0) out.push(...wrap(OPTIONS[keys[i - 1]].help, Math.max(40, width), '    '))
  })
  return out.join('\n')
}

/** A Markdown table of all settings: name, default, flag, environment variable, meaning. */
export function settingsHelp (): string {
  const rows = ['| setting | default | flag | environment | meaning |', '|---|---|---|---|---|']
  for (const key of Object.keys(OPTIONS) as OptionKey[]) {
    const spec = OPTIONS[key]
    const dflt = defaultText(key)
    rows.push(`| ${key} | ${dflt} | ${spec.flag ?? ''} | ${spec.env ?? ''} | ${spec.help.replace(/\|/g, '\\|')} |`)
  }
  return rows.join('\n')
}
