/**
 * The plain-language protection sentence of `palm status`, and its numbers (`protectionDetail`).
 * `protection` stays a plain sentence (an earlier contract); the numbers come from the repair
 * layer's survey of the journal and the devices online now.
 */
import { devicesForOneLoss, lossesForNewStripes } from '../place/index.js'
import type { ProtectionNumbers } from '../repair/index.js'
import type { ProtectionDetail } from './control-api.js'

export interface ProtectionInput extends ProtectionNumbers {
  policy: { k: number, n: number }
  /** Devices holding the whole journal (this one included), when the journal is replicated. */
  journalCopies?: number
}

function plural (n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** Too few devices for k-of-n to survive a loss: what placement does meanwhile (place/keeper.ts), and what helps. */
function smallSwarm (p: ProtectionInput): string {
  const need = devicesForOneLoss(p.policy)
  if (p.onlineDevices >= need) return ''
  const { k, n } = p.policy
  const more = Number.isFinite(need) ? `${need} devices` : 'a policy with n > k'
  return `; ${k}-of-${n} needs ${more} for a file to survive the loss of one, so until then the device that writes a file keeps ${k} of its ${n} fragments (the file reads whenever that device is up, as on it alone) and the others go to the other devices`
}

export function describeProtection (p: ProtectionInput): ProtectionDetail {
  const { k, n } = p.policy
  let sentence: string
  let losses: number
  const waiting = p.pendingSpread > 0 ? `; ${plural(p.pendingSpread, 'fragment')} wait to be spread to devices that are missing` : ''
  if (p.onlineDevices <= 1 && p.holderDevices <= 1) {
    losses = 0
    sentence = `no redundancy against losing this device: it is alone, so all ${n} fragments of every stripe are stored here (any ${k} rebuild it, which protects against damaged fragments only)${waiting}. Add devices with \`palm invite\` / \`palm join\` to spread them.`
  } else if (p.stripesTotal === 0) {
    losses = lossesForNewStripes(p.policy, p.onlineDevices)
    sentence = losses === 0
      ? `${p.onlineDevices} devices online; new files will not survive the loss of the device that writes them${smallSwarm(p)}${waiting}.`
      : `${p.onlineDevices} devices online; new files will survive the loss of ${plural(losses, 'device')} (${k}-of-${n})${waiting}.`
  } else if (p.stripesReachable < p.stripesTotal) {
    losses = 0
    sentence = `${p.stripesTotal - p.stripesReachable} of ${p.stripesTotal} stripes cannot be read now: fewer than k of their fragments are on online devices. Bring the missing devices back online${waiting}.`
  } else {
    losses = p.deviceLossesSurvivable
    const below = p.stripesBelowN > 0 ? `; ${p.stripesBelowN} of ${p.stripesTotal} stripes are on fewer than ${n} distinct devices` : ''
    sentence = losses === 0
      ? `every file is readable, but losing any one more device could make some unreadable (${plural(p.onlineDevices, 'device')} online${below}${waiting})${smallSwarm(p)}.`
      : `every file survives the loss of any ${plural(losses, 'device')} (${k}-of-${n} over ${plural(p.onlineDevices, 'online device')}${below}${waiting}).`
  }
  // The namespace counts too: losing every copy of the journal loses every name, whatever the fragments.
  if (p.journalCopies != null && losses > p.journalCopies - 1) {
    losses = Math.max(0, p.journalCopies - 1)
    sentence = `${sentence.replace(/\.$/, '')}; but the file tree (the journal) is in sync on only ${plural(p.journalCopies, 'device')}, so it survives the loss of ${plural(losses, 'device')} until the others catch up.`
  }
  return {
    sentence,
    deviceLossesSurvivable: losses,
    ...(p.journalCopies != null ? { journalCopies: p.journalCopies } : {}),
    stripesBelowN: p.stripesBelowN,
    pendingSpread: p.pendingSpread,
    stripesReachable: p.stripesReachable,
    stripesTotal: p.stripesTotal
  }
}
