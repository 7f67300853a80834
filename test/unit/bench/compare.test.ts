/**
 * The pure half of `bench -- pool --vs gluster` (bench/lib/compare.ts): fio's JSON read right,
 * nearest-rank percentiles, and the per-metric shape with its two speed ratios. No file system runs.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatComparison, parseFioIops, percentile, shapeComparison } from '../../../bench/lib/compare.js'

/** The part of fio 3.33's `--output-format=json` the benchmark reads, after a warning line fio prints first. */
const FIO_OUTPUT = `fio: note: both iodepth >= 1 and synchronous I/O engine are selected, queue depth will be capped at 1
{
  "fio version" : "fio-3.33",
  "jobs" : [
    {
      "jobname" : "palm-bench",
      "read" : { "io_bytes" : 22937600, "total_ios" : 5600, "iops" : 1119.776045, "runtime" : 5001 },
      "write" : { "io_bytes" : 0, "total_ios" : 0, "iops" : 0.000000, "runtime" : 0 }
    }
  ]
}
`

describe('bench compare: fio output', () => {
  it('reads the IOPS of the direction asked for, skipping text before the JSON', () => {
    assert.equal(parseFioIops(FIO_OUTPUT, 'read'), 1119.776045)
  })
  it('refuses a direction fio did no I/O in, and output without JSON', () => {
    assert.throws(() => parseFioIops(FIO_OUTPUT, 'write'), /did no write I\/O/)
    assert.throws(() => parseFioIops('fio: failed to open file', 'read'), /printed no JSON/)
    assert.throws(() => parseFioIops('{"jobs": []}', 'read'), /no jobs\[0\]\.read\.iops/)
  })
})

describe('bench compare: percentiles', () => {
  it('takes the nearest rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i) // 100 … 1, unsorted on purpose
    assert.equal(percentile(xs, 50), 50)
    assert.equal(percentile(xs, 99), 99)
    assert.equal(percentile(xs, 100), 100)
    assert.equal(percentile([7], 99), 7)
    assert.equal(percentile([3, 1, 2], 50), 2)
    assert.ok(Number.isNaN(percentile([], 50)))
  })
})

describe('bench compare: result shape', () => {
  const shaped = shapeComparison([
    { key: 'seqWriteMBps', unit: 'MB/s', values: { pool: 50.94, gluster: 124.3, single: 209.4, bindfs: 793 } },
    { key: 'rsyncSec', unit: 's', lowerIsBetter: true, values: { pool: 29, gluster: 60.2, single: 7, bindfs: 1.8 } },
    { key: 'randWriteSyncIops', unit: 'IOPS', values: { pool: 7, single: 20, bindfs: 4687 } }
  ])
  it('keeps the four figures and gives each ratio as PALM speed ÷ the other', () => {
    assert.deepEqual(shaped.seqWriteMBps, {
      unit: 'MB/s', lowerIsBetter: false, pool: 50.94, gluster: 124, single: 209, bindfs: 793, poolVsGluster: 0.41, singleVsBindfs: 0.26
    })
  })
  it('inverts the ratio for times, so > 1 still means PALM is faster', () => {
    assert.equal(shaped.rsyncSec.poolVsGluster, 2.08)
    assert.equal(shaped.rsyncSec.singleVsBindfs, 0.26)
  })
  it('leaves a side that failed as null, and its ratio too, rather than a made-up figure', () => {
    assert.equal(shaped.randWriteSyncIops.gluster, null)
    assert.equal(shaped.randWriteSyncIops.poolVsGluster, null)
    assert.equal(shaped.randWriteSyncIops.singleVsBindfs, 0.0043)
  })
  it('prints one row per metric with "-" for a missing figure', () => {
    const lines = formatComparison(shaped).split('\n')
    assert.equal(lines.length, 1 + 3 + 1)
    assert.match(lines[3], /^randWriteSyncIops\s+IOPS\s+7\.00\s+-\s+20\.00\s+4687\s+-\s+0\.0043$/)
  })
})
