/**
 * Crash test: a child process writes ops in a loop and is killed with SIGKILL. Reopening the
 * journal must show every op whose promise had resolved (the child printed its id after
 * resolution) and a consistent tree.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { createMetaStore } from '../../../src/meta/index.js'
import { ROOT_INO, type Attr, type StripeRef } from '../../../src/meta/types.js'
import { createTempDir, onCleanup } from '../../helpers/tmp.js'

const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url))
const WRITERS = 8

describe('journal crash safety', () => {
  for (const round of [1, 2]) {
    it(`keeps every resolved op after kill -9 (round ${round})`, async (t) => {
      const path = join(await createTempDir(t, 'palm-meta-crash-'), 'journal.db')
      const done = new Map<string, number>()
      for (let run = 0; run < 2; run++) {
        // Run twice on the same journal: the second run resumes after the first crash.
        const child = spawn(process.execPath, [CHILD, path, String(WRITERS), String(run)], { stdio: ['ignore', 'pipe', 'inherit'] })
        onCleanup(t, () => { if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL') })
        const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
        let lines = 0
        const target = 150 + Math.floor(Math.random() * 300)
        await new Promise<void>((resolve, reject) => {
          child.once('exit', (code, signal) => { reject(new Error(`crash child exited early (${String(code ?? signal)})`)) })
          createInterface({ input: child.stdout }).on('line', (line) => {
            if (line === 'READY') return
            const [w, i] = line.split(' ')
            const dir = `d${run}-${w}`
            done.set(dir, Math.max(done.get(dir) ?? -1, Number(i)))
            if (++lines === target) { child.kill('SIGKILL'); resolve() }
          })
        })
        await exited
        assert.equal(child.signalCode, 'SIGKILL')
      }

      const s = createMetaStore({ path, deviceId: 'crash-dev' })
      onCleanup(t, async () => { await s.stop() })
      await s.start()
      for (const [dir, last] of done) {
        const d: Attr | undefined = await s.lookup(ROOT_INO, dir)
        assert.ok(d != null, `directory ${dir} exists`)
        for (let i = 0; i <= last; i++) {
          const name = i % 3 === 0 ? `r${i}` : `f${i}`
          const a: Attr | undefined = await s.lookup(d.ino, name)
          assert.ok(a != null, `${dir}/${name} (step ${i} resolved before the kill) survived`)
          assert.equal(a.size, 100 + i)
          const stripes: StripeRef[] = await s.getStripes(a.ino, 0, 1)
          assert.equal(stripes[0]?.id, `s${dir.split('-')[1]}-${i}`)
          if (i % 5 === 0) assert.equal(new TextDecoder().decode(await s.getxattr(a.ino, 'user.step')), String(i))
        }
      }
      const check = await s.check()
      assert.deepEqual(check.problems, [], 'the tree is consistent after the crash')
      assert.equal(s.stats().ops, check.ops)
    })
  }
})
