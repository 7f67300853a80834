/**
 * close → visible through two mounts on the namespace LAN (root only): devices na and nb, each
 * with its own `palm mount` in its own network namespace (test/lan's harness). A file is written
 * and closed on one mount; the time until the other mount reads exactly those bytes is one sample.
 * Directions alternate. Everything made is removed afterwards. Returns p50/p99 in ms (or the reason
 * it could not run).
 */
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { palm, testEnv } from '../../test/helpers/palm.js'
import type { Cleanup } from '../../test/helpers/tmp.js'
import { createLan, lanSkipReason } from '../../test/lan/harness.js'
import { joinHomes, lanEnv, waitAllOnline } from '../../test/lan/palm-devices.js'
import { startMount } from '../../test/lan/pool-devices.js'

export interface Visible { p50?: number, p99?: number, samples: number, skipped?: string }

function percentile (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return Number(s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(1))
}

export async function closeToVisible (samples: number): Promise<Visible> {
  const skip = lanSkipReason()
  if (skip != null) return { samples: 0, skipped: skip }
  const hooks: Array<() => unknown> = []
  const t: Cleanup = { after: (fn) => { hooks.push(fn) } }
  const root = await mkdtemp(join(tmpdir(), 'palm-bench-visible-'))
  try {
    const lan = await createLan(t, { devices: ['na', 'nb'] })
    const env = lanEnv(`_palm-${randomBytes(4).toString('hex')}._udp.local`)
    const init = await palm(['init', '--home', join(root, 'na'), '--name', 'na', '--policy', '2-of-3'], { env: testEnv() })
    if (init.code !== 0) throw new Error(`palm init: ${init.stderr}`)
    const nb = (await joinHomes(t, lan, { name: 'na', home: join(root, 'na') }, root, ['nb'], env)).get('nb') ?? ''
    const a = await startMount(t, lan, 'na', join(root, 'na'), env, join(root, 'mnt-na'), join(root, 'na.log'))
    const b = await startMount(t, lan, 'nb', nb, env, join(root, 'mnt-nb'), join(root, 'nb.log'))
    await waitAllOnline([a, b], 60_000)
    const ms: number[] = []
    for (let i = 0; i < samples; i++) {
      const [from, to] = i % 2 === 0 ? [a, b] : [b, a]
      const bytes = randomBytes(16 * 1024)
      const name = `visible-${i}.bin`
      await writeFile(join(from.mountpoint, name), bytes)
      const t0 = performance.now()
      for (;;) {
        const got = await readFile(join(to.mountpoint, name)).catch(() => undefined)
        if (got?.equals(bytes) === true) break
        if (performance.now() - t0 > 30_000) throw new Error(`${name} was not visible on ${to.name} after 30 s`)
        await new Promise(resolve => setTimeout(resolve, 5))
      }
      ms.push(performance.now() - t0)
    }
    return { p50: percentile(ms, 0.5), p99: percentile(ms, 0.99), samples: ms.length }
  } finally {
    for (const fn of hooks.splice(0).reverse()) await fn()
    await rm(root, { recursive: true, force: true })
  }
}
