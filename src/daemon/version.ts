/** PALM's version, from package.json (read once at load). */
import { readFileSync } from 'node:fs'

function readVersion (): string {
  try {
    // dist/src/daemon/version.js → package.json three levels up.
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'))
    return String(pkg.version)
  } catch {
    return '0.0.0'
  }
}

export const PALM_VERSION = readVersion()
