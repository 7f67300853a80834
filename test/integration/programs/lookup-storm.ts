/**
 * Hammers a mount with lookups (stat of names that come and go), reads of those files (their pages
 * race the data invalidations) and listings for a while, from its own process, for the
 * remote-change deadlock test. Prints one JSON line: { lookups, reads, listings, unexpected }
 * (unexpected: errors other than ENOENT; ESTALE counts too, as unexpected).
 *   node lookup-storm.js DIR PREFIX NAMES DURATION_MS
 */
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const [dir, prefix, namesText, durationText] = process.argv.slice(2)
const names = Number(namesText)
const until = Date.now() + Number(durationText)
let lookups = 0
let reads = 0
let listings = 0
let unexpected = 0
while (Date.now() < until) {
  for (let i = 0; i < names; i++) {
    const path = join(dir, `${prefix}${i}`)
    lookups++
    try {
      statSync(path)
      readFileSync(path)
      reads++
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') unexpected++
    }
  }
  readdirSync(dir)
  listings++
}
process.stdout.write(JSON.stringify({ lookups, reads, listings, unexpected }) + '\n')
