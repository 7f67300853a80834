/**
 * The protection numbers of `palm status`: the repair layer's survey over a real (in-memory SQLite)
 * journal, evaluated against the devices online, and the sentence built from them.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pWaitFor from 'p-wait-for'
import { describeProtection } from '../../../src/daemon/protection.js'
import { createMetaStore, ROOT_INO, type StripeRef } from '../../../src/meta/index.js'
import { createProtectionSurvey } from '../../../src/repair/index.js'
import { onCleanup, type Cleanup } from '../../helpers/tmp.js'
import { captureLogger } from './pool-rig.js'

const POLICY = { k: 4, n: 6 }

function ref (index: number, holders: string[][]): StripeRef {
  return { index, length: 100, id: `s${index}-${holders.flat().join('')}`, k: 4, n: 6, codecId: 1, fragments: holders.map((_, i) => `bafy${index}x${i}`), holders }
}

type Meta = ReturnType<typeof createMetaStore>

async function addFile (meta: Meta, name: string, stripes: StripeRef[]): Promise<void> {
  const attr = await meta.create(ROOT_INO, name, { type: 'file', mode: 0o644, uid: 0, gid: 0 })
  await meta.setContent(attr.ino, { size: stripes.length * 100, stripeSize: 100, stripes })
}

async function rigWithMeta (t: Cleanup, files: StripeRef[][], online: () => string[], pending: () => number = () => 0): Promise<{ meta: Meta, survey: ReturnType<typeof createProtectionSurvey> }> {
  const meta = createMetaStore({ path: ':memory:', deviceId: 'self' })
  await meta.start()
  onCleanup(t, async () => { await meta.stop() })
  for (const [i, stripes] of files.entries()) await addFile(meta, `f${i}`, stripes)
  return { meta, survey: createProtectionSurvey({ minIntervalMs: 0 }, { meta, deviceId: 'self', onlinePeers: online, pendingSpread: pending, logger: captureLogger([]) }) }
}

async function rig (t: Cleanup, files: StripeRef[][], online: () => string[], pending: () => number = () => 0): Promise<ReturnType<typeof createProtectionSurvey>> {
  return (await rigWithMeta(t, files, online, pending)).survey
}

const six = (): string[][] => [['self'], ['a'], ['b'], ['c'], ['d'], ['e']]

describe('protection survey', () => {
  it('six devices, one fragment each: any 2 may be lost; with 2 offline, any 0 more', async t => {
    let online = ['a', 'b', 'c', 'd', 'e']
    const survey = await rig(t, [[ref(0, six()), ref(1, six())], [ref(0, six())]], () => online)
    let n = await survey.numbers()
    assert.deepEqual({ ...n }, { onlineDevices: 6, holderDevices: 6, deviceLossesSurvivable: 2, stripesBelowN: 0, stripesReachable: 3, stripesTotal: 3, pendingSpread: 0 })
    assert.match(describeProtection({ policy: POLICY, ...n }).sentence, /survives the loss of any 2 devices/)
    // The namespace counts too: a journal in sync on only 2 devices survives the loss of 1.
    const thin = describeProtection({ policy: POLICY, ...n, journalCopies: 2 })
    assert.equal(thin.deviceLossesSurvivable, 1)
    assert.match(thin.sentence, /the file tree \(the journal\) is in sync on only 2 devices, so it survives the loss of 1 device/)
    assert.equal(describeProtection({ policy: POLICY, ...n, journalCopies: 6 }).deviceLossesSurvivable, 2)
    online = ['a', 'b', 'c']
    n = await survey.numbers()
    assert.equal(n.deviceLossesSurvivable, 0)
    assert.equal(n.stripesBelowN, 3)
    assert.equal(n.stripesReachable, 3)
    online = ['a', 'b']
    n = await survey.numbers()
    assert.equal(n.stripesReachable, 0)
    assert.match(describeProtection({ policy: POLICY, ...n }).sentence, /3 of 3 stripes cannot be read now/)
  })

  it('three devices holding two each survive one loss; a device with three of a stripe makes it zero', async t => {
    const even = [['self'], ['a'], ['b'], ['self'], ['a'], ['b']]
    const survey = await rig(t, [[ref(0, even)]], () => ['a', 'b'])
    assert.equal((await survey.numbers()).deviceLossesSurvivable, 1)
    const skewed = await rig(t, [[ref(0, [['self'], ['self'], ['self'], ['a'], ['a'], ['b']])]], () => ['a', 'b'])
    assert.equal((await skewed.numbers()).deviceLossesSurvivable, 0)
  })

  it('counts a queued fragment only on the device that holds it while spreading is pending', async t => {
    let pending = 2
    const holders = [['self'], ['a'], ['b'], ['c'], ['a', 'd'], ['b', 'e']]
    const survey = await rig(t, [[ref(0, holders)]], () => ['a', 'b', 'c', 'd', 'e'], () => pending)
    let n = await survey.numbers()
    assert.equal(n.pendingSpread, 2)
    assert.equal(n.deviceLossesSurvivable, 1, 'a and b hold two each until the copies are made')
    assert.equal(n.stripesBelowN, 1)
    pending = 0
    n = await survey.numbers()
    assert.equal(n.deviceLossesSurvivable, 2)
    assert.equal(n.stripesBelowN, 0)
  })

  it('two devices tell the truth: new files do not survive losing their writer (it used to promise one loss), and the small-swarm rule is named', async t => {
    const empty = { onlineDevices: 2, holderDevices: 2, deviceLossesSurvivable: 0, stripesBelowN: 0, stripesReachable: 0, stripesTotal: 0, pendingSpread: 0 }
    const none = describeProtection({ policy: POLICY, ...empty })
    assert.equal(none.deviceLossesSurvivable, 0)
    assert.match(none.sentence, /new files will not survive the loss of the device that writes them; 4-of-6 needs 3 devices/)
    const three = describeProtection({ policy: POLICY, ...empty, onlineDevices: 3 })
    assert.equal(three.deviceLossesSurvivable, 1)
    assert.match(three.sentence, /new files will survive the loss of 1 device/)
    // The writer's layout on two devices (4 + 2): readable, no loss of any device survivable.
    const kept = await rig(t, [[ref(0, [['self'], ['self'], ['self'], ['self'], ['a'], ['a']])]], () => ['a'])
    const n = await kept.numbers()
    assert.equal(n.deviceLossesSurvivable, 0)
    assert.match(describeProtection({ policy: POLICY, ...n }).sentence, /^every file is readable, but losing any one more device.*the device that writes a file keeps 4 of its 6 fragments/)
  })

  it('a lone device says there is no redundancy against losing it', async t => {
    const alone = [['self'], ['self'], ['self'], ['self'], ['self'], ['self']]
    const survey = await rig(t, [[ref(0, alone)]], () => [])
    const n = await survey.numbers()
    assert.equal(n.holderDevices, 1)
    assert.match(describeProtection({ policy: POLICY, ...n }).sentence, /^no redundancy against losing this device/)
  })

  it('walks the journal again when it changed', async t => {
    const { meta, survey } = await rigWithMeta(t, [[ref(0, six())]], () => ['a', 'b', 'c', 'd', 'e'])
    assert.equal((await survey.numbers()).stripesTotal, 1)
    await addFile(meta, 'later', [ref(0, [['self'], ['self'], ['a'], ['b'], ['c'], ['d']])])
    // The next walk may start 20 × the last walk's duration after it.
    await pWaitFor(async () => (await survey.numbers()).stripesTotal === 2, { timeout: 5000, interval: 20 })
    const n = await survey.numbers()
    assert.equal(n.stripesBelowN, 1)
    assert.equal(n.deviceLossesSurvivable, 1)
  })
})
