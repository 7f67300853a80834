/**
 * The writer of the append-while-read test, run as its own process against a mount: appends the
 * plan's records to FILE, one write(2) each, with an fsync every `fsyncEvery` records, then closes.
 *   node append-writer.js FILE SEED RECORDS
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs'
import { appendPlan, fillExpected } from './append-plan.js'

const [file, seedText, countText] = process.argv.slice(2)
const seed = Number(seedText) >>> 0
const plan = appendPlan(seed, Number(countText))
const fd = openSync(file, 'a')
let at = 0
for (let i = 0; i < plan.records.length; i++) {
  const rec = new Uint8Array(plan.records[i])
  fillExpected(seed, at, rec)
  const n = writeSync(fd, rec)
  if (n !== rec.length) throw new Error(`short write of record ${i}: ${n} of ${rec.length} bytes`)
  at += n
  if ((i + 1) % plan.fsyncEvery === 0) fsyncSync(fd)
}
closeSync(fd)
