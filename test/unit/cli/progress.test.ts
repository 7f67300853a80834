/** The progress renderer of long commands: a bar on a terminal, quiet then sparse lines otherwise. */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { createProgress, formatEta, progressLine } from '../../../src/cli/progress.js'

const ev = (done: number, total = 100): { task: string, phase: string, done: number, total: number, unit: string } => ({ task: 'fsck', phase: 'checking stripes', done, total, unit: 'stripes' })

it('a line has counts, percent and an ETA at the rate so far', () => {
  assert.equal(progressLine(ev(25), 10_000, false), 'fsck: checking stripes 25/100 stripes (25%), ETA 30 s')
  assert.equal(progressLine(ev(50), 1000, true), 'fsck: checking stripes [############------------] 50/100 stripes (50%), ETA 1 s')
  assert.equal(progressLine(ev(100), 1000, false), 'fsck: checking stripes 100/100 stripes (100%)')
  assert.equal(progressLine(ev(7, 0), 1000, false), 'fsck: checking stripes 7 stripes')
  assert.deepEqual([formatEta(89_000), formatEta(600_000), formatEta(3_600_000), formatEta(5_400_000)], ['89 s', '10 min', '1 h', '1 h 30 min'])
})

it('plain lines start after a second and come every five; a quick run prints nothing', () => {
  let now = 0
  const out: string[] = []
  const p = createProgress('plain', s => out.push(s), () => now)
  for (let i = 1; i <= 100; i++) { now = i * 100; p.onProgress(ev(i)) }
  p.done()
  // 0.1 s per stripe: shown at 1.0 s (10) and 6.0 s (60), then the final count.
  assert.deepEqual(out.map(l => l.split(' ')[3]), ['10/100', '60/100', '100/100'])
  const quiet: string[] = []
  now = 0
  const q = createProgress('plain', s => quiet.push(s), () => now)
  now = 500; q.onProgress(ev(100)); q.done()
  assert.deepEqual(quiet, [])
})

it('a terminal gets the bar redrawn in place and cleared at the end; --json gets objects', () => {
  let now = 0
  const out: string[] = []
  const p = createProgress('tty', s => out.push(s), () => now)
  now = 200; p.onProgress(ev(10))
  now = 250; p.onProgress(ev(11))
  now = 400; p.onProgress(ev(20))
  p.done()
  assert.equal(out.length, 3)
  assert.ok(out[0].startsWith('\r\x1b[2Kfsck: checking stripes [##'))
  assert.equal(out[2], '\r\x1b[2K')
  const json: string[] = []
  now = 0
  const j = createProgress('json', s => json.push(s), () => now)
  now = 2000; j.onProgress(ev(40))
  assert.deepEqual(JSON.parse(json[0]), { progress: { ...ev(40), elapsedMs: 2000, etaMs: 3000 } })
})
