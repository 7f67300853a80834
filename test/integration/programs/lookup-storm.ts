/**
 * Hammers a mount with lookups (stat of names that come and go, and listings) for a while, from its
 * own process, for the remote-change deadlock test. Prints one JSON line: { lookups, listings,
 * unexpected } (unexpected: errors other than ENOENT).
 *   node lookup-storm.js DIR PREFIX NAMES DURATION_MS
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const [dir, prefix, namesText, durationText] = process.argv.slice(2)
const names = Number(namesText)
const until = Date.now() + Number(durationText)
let lookups = 0
let listings = 0
let unexpected = 0
while (Date.now() < until) {
  for (let i = 0; i < names; i++) {
    try {
      statSync(join(dir, `${prefix}${i}`))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') unexpected++
    }
    lookups++
  }
  readdirSync(dir)
  listings++
}
process.stdout.write(JSON.stringify({ lookups, listings, unexpected }) + '\n')
