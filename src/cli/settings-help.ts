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

/** A Markdown table of all settings: name, default, flag, environment variable, meaning. */
export function settingsHelp (): string {
  const rows = ['| setting | default | flag | environment | meaning |', '|---|---|---|---|---|']
  for (const key of Object.keys(OPTIONS) as OptionKey[]) {
    const spec = OPTIONS[key]
    const dflt = key === 'home' ? '~/.palm' : key === 'mountpoint' ? '~/palm' : key === 'name' ? 'host name' : key === 'workers' ? 'CPU cores' : show(key)
    rows.push(`| ${key} | ${dflt} | ${spec.flag ?? ''} | ${spec.env ?? ''} | ${spec.help.replace(/\|/g, '\\|')} |`)
  }
  return rows.join('\n')
}
