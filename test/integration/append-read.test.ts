/**
 * A reader following a file that another process appends to (what `tail -f` does) must only ever
 * see a prefix of what was written: never zeros, never bytes of another offset, and a size that
 * never shrinks. Writer and reader are separate processes (neither serves the mount); each run has
 * its own seeded record sizes and fsync interval. Rerun a failure with the printed
 * PALM_APPEND_SEED (and PALM_APPEND_RUNS, PALM_APPEND_RECORDS).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { it } from 'node:test'
import { REPO, createPalmHome, skipWithoutFuse, startMount } from '../helpers/palm.js'
import { onCleanup, type Cleanup } from '../helpers/tmp.js'
import { appendPlan, firstMismatch } from './programs/append-plan.js'

const PROGRAMS = join(REPO, 'dist', 'test', 'integration', 'programs')
const RUNS = Number(process.env.PALM_APPEND_RUNS ?? 12)
const RECORDS = Number(process.env.PALM_APPEND_RECORDS ?? 3000)
const SEED = Number(process.env.PALM_APPEND_SEED ?? Math.floor(Math.random() * 2 ** 31))

interface Exit { code: number | null, stdout: string, stderr: string }

/** Runs a program as a child process; killed at cleanup if still running. */
function run (t: Cleanup, program: string, args: string[]): Promise<Exit> {
  const child = spawn(process.execPath, [join(PROGRAMS, program), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  onCleanup(t, () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => { resolve({ code, stdout, stderr }) })
  })
}

it('a reader of a file being appended to sees only what was written, and the size never shrinks', { skip: skipWithoutFuse(), timeout: 30 * 60_000 }, async (t) => {
  t.diagnostic(`PALM_APPEND_SEED=${SEED} PALM_APPEND_RUNS=${RUNS} PALM_APPEND_RECORDS=${RECORDS}`)
  const home = await createPalmHome(t)
  const m = await startMount(t, home)
  for (let i = 0; i < RUNS; i++) {
    const seed = (SEED + i) >>> 0
    const plan = appendPlan(seed, RECORDS)
    const file = join(m.mountpoint, `log-${i}.bin`)
    const what = `run ${i} (seed ${seed}, fsync every ${plan.fsyncEvery} records, ${plan.totalBytes} bytes; rerun with PALM_APPEND_SEED=${seed})`
    // The reader starts first and waits for the file to appear.
    const reader = run(t, 'tail-reader.js', [file, String(seed), String(plan.totalBytes), String(seed ^ 0x5bd1e995)])
    const writer = await run(t, 'append-writer.js', [file, String(seed), String(RECORDS)])
    assert.equal(writer.code, 0, `writer of ${what} failed: ${writer.stderr}`)
    const r = await reader
    assert.equal(r.code, 0, `reader of ${what}: ${r.stdout}${r.stderr}`)
    assert.equal(JSON.parse(r.stdout).ok, true, `${what}: ${r.stdout}`)
    const back = await readFile(file)
    assert.equal(back.length, plan.totalBytes, `${what}: size after close`)
    assert.equal(firstMismatch(seed, 0, back), -1, `${what}: content after close`)
  }
})
