/**
 * `palm fsck --repair` on a device whose journal database is damaged (the daemon refuses to start
 * on it): rebuilds the journal from its signed op log with this device's key (meta/rebuild.ts).
 * Only while no daemon runs on the home.
 */
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PalmConfig } from '../config/defaults.js'
import { BusyError } from '../errors.js'
import { rebuildJournal, type JournalRebuild } from '../meta/index.js'
import { loadOrCreatePeerKey } from '../net/index.js'
import { defaultLogger } from '../util/logger.js'
import { daemonRunning } from './control-client.js'
import { homePaths } from './home.js'
import { opSigner } from './signer.js'

export type { JournalRebuild } from '../meta/index.js'

/** Rebuilds the home's journal from its op log; the damaged copy goes to `<home>/damaged/`. */
export async function repairJournal (config: PalmConfig): Promise<JournalRebuild> {
  const paths = homePaths(config.home)
  if (await daemonRunning(paths.socket)) {
    throw new BusyError(`a daemon runs on ${config.home}: stop it (\`palm unmount\`) before rebuilding its journal`, { details: { home: config.home } })
  }
  const peerKey = await loadOrCreatePeerKey(paths.deviceKey)
  const signer = opSigner(peerKey)
  return await rebuildJournal({
    path: paths.journal,
    deviceId: peerIdFromPrivateKey(peerKey).toString(),
    sign: signer.sign,
    signAsync: signer.signAsync,
    publicKey: signer.publicKey,
    logger: defaultLogger()
  })
}
