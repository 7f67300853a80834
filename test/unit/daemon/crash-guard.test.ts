/**
 * The daemon's crash guard (src/daemon/crash-guard.ts), in a real child process: a stream's reset
 * thrown from an event listener and an unhandled rejection are logged and the process goes on; any
 * other uncaught exception ends it with code 1, after a log line.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'

const GUARD = fileURLToPath(new URL('../../../src/daemon/crash-guard.js', import.meta.url))
const LOGGER = fileURLToPath(new URL('../../../src/util/logger.js', import.meta.url))

async function run (script: string): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    import { installCrashGuard } from ${JSON.stringify(GUARD)}
    import { defaultLogger } from ${JSON.stringify(LOGGER)}
    installCrashGuard(defaultLogger().forComponent('palm:daemon'))
    ${script}
  `], { env: { ...process.env, DEBUG: 'palm:*' } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  return { code, stdout, stderr }
}

describe('daemon crash guard', () => {
  it('logs a stream reset thrown by a listener and an unhandled rejection, and goes on', async () => {
    const r = await run(`
      class StreamResetError extends Error { constructor () { super('The stream has been reset'); this.name = 'StreamResetError' } }
      const target = new EventTarget()
      target.addEventListener('close', () => { throw new StreamResetError() })
      target.dispatchEvent(new Event('close'))
      Promise.reject(new Error('nobody awaited this'))
      setTimeout(() => { console.log('still running') }, 200)
    `)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /still running/)
    assert.match(r.stderr, /a network stream failed outside its handler \(StreamResetError\)/)
    assert.match(r.stderr, /an error nothing awaited .*nobody awaited this/)
  })

  it('ends the process with code 1 on any other uncaught exception, after saying what it was', async () => {
    const r = await run(`
      setTimeout(() => { null.boom() }, 10)
      setTimeout(() => { console.log('still running') }, 500)
    `)
    assert.equal(r.code, 1)
    assert.doesNotMatch(r.stdout, /still running/)
    assert.match(r.stderr, /uncaught exception; the daemon stops: TypeError/)
  })
})
