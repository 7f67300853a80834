/**
 * The composition root: the only place that builds and connects PALM's components. Start is
 * bottom-up (store, journal, chunk pool, network, stripe I/O, VFS, mount, control socket), stop is
 * the reverse. A daemon serves one home; with a mountpoint it also serves the FUSE mount.
 */
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { ComponentLogger, Logger } from '@libp2p/interface'
import { createChunkPool } from '../chunk/index.js'
import type { PalmConfig } from '../config/defaults.js'
import { InvalidArgumentError } from '../errors.js'
import { createMetaStore, systemClock } from '../meta/index.js'
import type { MetaStore } from '../meta/types.js'
import { createJournalSync, createPalmNode, loadOrCreatePeerKey, loadOrCreateSwarmKey, type JournalSync, type PalmNode } from '../net/index.js'
import { MetaReplica } from './journal-replica.js'
import { createLocalStripeIO, createPoolStripeIO, createSpreadQueue, ForeignFragments, PoolStripeIO, type FileSpreadQueue, type StripeIO } from '../place/index.js'
import { createProtectionSurvey, createReencoder, createRepairer, createSpreader, type ProtectionSurvey, type Reencoder, type Repairer } from '../repair/index.js'
import { createFsStore, type FsFragmentStore } from '../store/index.js'
import { createVfs } from '../vfs/index.js'
import type { Vfs } from '../vfs/types.js'
import { mountVfs, type MountedFs } from '../fuse/index.js'
import type { ChunkPool } from '../chunk/types.js'
import { Lifecycle } from '../util/startable.js'
import { repeatingTask } from '../util/repeating-task.js'
import { defaultLogger } from '../util/logger.js'
import { deriveSwarmSalt } from '../util/swarm-salt.js'
import { homePaths, readClockFloor, readSwarmInfo, type HomePaths, type SwarmInfo } from './home.js'
import { opSigner } from './signer.js'
import { readAddrsHint } from './swarm-hint.js'
import type { ControlApi, FsckReport, InviteReport, PeerStatus, RemoveReport, StatusReport } from './control-api.js'
import { startControlServer, type ControlServer } from './control-server.js'
import { DASHBOARD_DEFAULT_PORT, startDashboard, type Dashboard } from './dashboard.js'
import { buildStatus, peerStatus } from './status.js'
import { runFsck } from './fsck.js'
import { drainDevice } from './drain.js'
import { fileInfo } from './file-info.js'
import { mountSource } from './mount-owner.js'
import { inviteAuthority, inviteFor } from './invite.js'
import { deleteGuard } from './delete-guard.js'
import { DeviceRemovals } from './removal.js'
import { removeFor } from './remove.js'
import { KeyRotation } from './key-rotation.js'
import { KEY_RING_FILE } from './key-ring.js'
import { SpotChecker } from './spot-check.js'
import { FailureDomains } from './domains.js'
import { getFragment, runGc } from './fragments.js'
import { admitDevice, admitPeers } from './admission.js'
import { PALM_VERSION } from './version.js'

/** How often a few sampled acknowledged puts are fetched back (spot-check.ts), ms. */
const SPOT_CHECK_INTERVAL_MS = 15_000

/** The most ops any device this one syncs with holds that this one does not (0 without replication). */
function journalBehind (journal: JournalSync | undefined): number {
  return Math.max(0, ...(journal?.stats().peers ?? []).map(p => p.opsBehind))
}

export interface DaemonInit {
  config: PalmConfig
  /** Serve a FUSE mount here (absent: storage only, e.g. `palm serve`, or offline). */
  mountpoint?: string
  /** Start the network node (default: config.network). */
  network?: boolean
  /** Serve the control API on the home's socket (default true). */
  controlSocket?: boolean
  logger?: ComponentLogger
  /** Called when a stop was requested through the control API. */
  onStopRequested?: () => void
}

/** Everything the daemon built, for status, fsck and tests. */
export interface DaemonParts {
  paths: HomePaths
  swarm: SwarmInfo
  deviceId: string
  store: FsFragmentStore
  meta: MetaStore
  pool: ChunkPool
  net?: PalmNode
  /** Journal replication (network on only): every device keeps the whole journal. */
  journal?: JournalSync
  stripes: StripeIO
  vfs: Vfs
  /** Fragments other devices placed here (kept by GC). */
  foreign: ForeignFragments
  /** The shortfall of writes waiting to be spread (network on only). */
  spreadQueue?: FileSpreadQueue
  /** Protection numbers for status. */
  survey: ProtectionSurvey
  /** Devices removed from the swarm; its `device:removed` event is the hook for rebuilds. */
  removals: DeviceRemovals
  /** The swarm's network key and its re-keying after removals. */
  keys: KeyRotation
  /** Verifies a sample of acknowledged puts (network on only). */
  spotCheck?: SpotChecker
  /** Rebuilds fragments of gone devices and bad copies (network on only). */
  repairer?: Repairer
  /** Re-encodes files after a folder's policy changes (network on only). */
  reencoder?: Reencoder
}

export class Daemon extends Lifecycle {
  readonly config: PalmConfig
  readonly #init: DaemonInit
  readonly #logger: ComponentLogger
  readonly #log: Logger
  readonly #startedAt = Date.now()
  #parts?: DaemonParts
  #mount?: MountedFs
  #control?: ControlServer
  #dashboardUrl: string | null = null
  #page?: Dashboard
  /** Things to stop, last started first. */
  readonly #stack: Array<{ name: string, stop: () => Promise<void> }> = []

  constructor (init: DaemonInit) {
    super()
    this.config = init.config
    this.#init = init
    this.#logger = init.logger ?? defaultLogger()
    this.#log = this.#logger.forComponent('palm:daemon')
  }

  get parts (): DaemonParts {
    if (this.#parts == null) throw new Error('the daemon is not started')
    return this.#parts
  }

  get mountpoint (): string | null {
    return this.#mount?.mountpoint ?? null
  }

  /**
   * Declares the device `deviceId` gone now, skipping the repair grace: its fragments are rebuilt
   * on other devices by the next repair walk (for `palm remove`). Only on this device, not persisted.
   */
  declareGone (deviceId: string): void {
    const repairer = this.parts.repairer
    if (repairer == null) throw new InvalidArgumentError('this device runs without the network: there is no pool to repair (start it with the network on)')
    repairer.declareGone(deviceId)
  }

  protected async onStart (): Promise<void> {
    const c = this.config
    const paths = homePaths(c.home)
    const swarm = await readSwarmInfo(c.home)
    const peerKey = await loadOrCreatePeerKey(paths.deviceKey)
    const deviceId = peerIdFromPrivateKey(peerKey).toString()
    const swarmKey = await loadOrCreateSwarmKey(paths.swarmKey)
    const signer = opSigner(peerKey)
    const logger = this.#logger

    const store = createFsStore({ path: paths.fragments, capacityBytes: c.capacityBytes }, { logger })
    await this.#startPart('store', store)
    const clock = systemClock()
    const offsetNs = BigInt(Math.round(c.clockOffsetMs)) * 1_000_000n
    const clockFloor = await readClockFloor(paths)
    const meta = createMetaStore({
      path: paths.journal, deviceId, sign: signer.sign, signAsync: signer.signAsync, publicKey: signer.publicKey, logger, clockFloor,
      ...(offsetNs !== 0n ? { clock: () => clock() + offsetNs } : {})
    })
    await this.#startPart('journal', meta)
    // A joiner's inviter is a member before they meet: its older ops must still merge here, so
    // this journal may not compact past them before it holds them (a no-op once admitted).
    if (swarm.invitedBy != null && !await admitDevice(meta, swarm.invitedBy)) this.#log('the inviting device %s has no Ed25519 device id; not admitted', swarm.invitedBy)
    // Removed devices (signed ops in the journal): refused by the network, announced to listeners.
    let net: PalmNode | undefined
    const removals = new DeviceRemovals(meta, () => net, logger.forComponent('palm:daemon:removal'))
    await removals.start()
    this.#stack.push({ name: 'removals', stop: async () => { removals.stop() } })
    // The network key: swarm.key until the swarm is re-keyed after a removal (key-rotation.ts).
    const keys = new KeyRotation({ path: join(paths.home, KEY_RING_FILE), swarmKey, deviceId, deviceKey: peerKey, meta, isRemoved: id => removals.isRemoved(id), net: () => net, log: logger.forComponent('palm:daemon:keys') })
    await keys.load()
    keys.start()
    this.#stack.push({ name: 'key rotation', stop: async () => { keys.stop() } })
    // This device's failure domain (a signed op when it changes) and the others', for placement.
    const domains = new FailureDomains(meta, logger.forComponent('palm:daemon:domains'))
    await domains.start(c.domain)
    this.#stack.push({ name: 'failure domains', stop: async () => { domains.stop() } })
    const pool = createChunkPool({ salt: deriveSwarmSalt(swarmKey), workers: c.workers, formatVersion: c.fragmentFormat, logger })
    await this.#startPart('chunk pool', pool)

    const foreign = new ForeignFragments({ path: join(paths.home, 'foreign-fragments.log') })
    await this.#startPart('foreign fragment log', foreign)
    if (this.#init.network ?? c.network) {
      net = createPalmNode({
        peerKey,
        swarmKey: keys.networkKey(),
        listen: c.listen,
        mdns: { enabled: c.mdns, serviceTag: c.mdnsServiceTag },
        dht: { enabled: c.dht },
        peersFile: paths.peersFile,
        bootstrap: await readAddrsHint(paths),
        gossipIntervalMs: c.gossipIntervalMs,
        offlineAfterMs: c.offlineAfterMs
      }, {
        // Other devices' puts and deletes are recorded: local GC never takes their fragments.
        store: foreign.wrap(store),
        logger,
        // Invite codes are redeemed on the swarm port: this device admits the joiner and hands it the key.
        invites: inviteAuthority(paths, swarm, meta, () => net, keys),
        // A peer's DELETE goes through only for fragments this journal no longer references.
        mayDelete: deleteGuard(meta),
        isRemoved: (id) => removals.isRemoved(id) || keys.excludes(id),
        // A device that refuses this one's key may hold a newer one: ask it (key fetch).
        onKeyMismatch: (addr) => { keys.mismatch(addr) },
        getHealth: () => {
          const u = store.usage()
          return { name: c.name, capacityBytes: u.capacityBytes, usedBytes: u.usedBytes, freeBytes: u.freeBytes, fragmentCount: u.fragmentCount, journalHead: String(meta.stats().ops), version: PALM_VERSION }
        }
      })
      await this.#startPart('network', net)
      // Devices met over the protected swarm are admitted to the journal (their ops are accepted).
      const stopAdmitting = admitPeers(meta, net.membership, this.#log)
      this.#stack.push({ name: 'admission', stop: async () => { stopAdmitting() } })
    }
    let journal: JournalSync | undefined
    if (net != null) {
      // Every device, mounting or only serving, keeps the whole journal.
      const replica = new MetaReplica(meta, { deviceId, admit: async (peer) => await admitDevice(meta, peer) }, logger.forComponent('palm:daemon:journal'))
      await replica.start()
      this.#stack.push({ name: 'journal replica', stop: async () => { replica.stop() } })
      journal = createJournalSync({ syncIntervalMs: c.journalSyncIntervalMs, pushGapMs: c.journalPushGapMs }, { node: net, replica, logger })
      await this.#startPart('journal replication', journal)
    }

    let stripes: StripeIO
    let spreadQueue: FileSpreadQueue | undefined
    let repairer: Repairer | undefined
    let reencoder: Reencoder | undefined
    let spotCheck: SpotChecker | undefined
    if (net != null) {
      spreadQueue = createSpreadQueue({ dir: join(paths.home, 'spread') }, { logger })
      await this.#startPart('spread queue', spreadQueue)
      // Some acknowledged puts are fetched back later: a device that lies is no longer used and its
      // fragments are rebuilt (spot-check.ts).
      const referenced = deleteGuard(meta)
      const spot = spotCheck = new SpotChecker({}, {
        fragments: net.fragments,
        referenced: async (cids, options) => await referenced(cids, '', options),
        onLiar: (peer) => { placed.devices.stats.distrust(peer); repairer?.declareGone(peer) },
        log: logger.forComponent('palm:daemon:spot-check')
      })
      // A device that went offline may have lost unsynced puts rightly: its samples prove nothing.
      const forgetSamples = (e: CustomEvent<{ id: string }>): void => { spot.sampler.forget(e.detail.id) }
      net.membership.addEventListener('peer:offline', forgetSamples)
      this.#stack.push({ name: 'spot check samples', stop: async () => { net.membership.removeEventListener('peer:offline', forgetSamples) } })
      const checks = repeatingTask('spot check', async (signal) => { await spot.run({ signal }) }, { intervalMs: SPOT_CHECK_INTERVAL_MS, timeoutMs: 60_000 }, this.#log)
      checks.start()
      this.#stack.push({ name: 'spot check', stop: checks.stop })
      const fragments = spot.watch(net.fragments)
      const placed = createPoolStripeIO({
        policy: swarm.policy,
        durability: c.durability,
        readFailMs: c.readFailMs,
        placeTimeoutMs: c.placeTimeoutMs,
        deviceName: c.name,
        knownForMs: c.repairGraceMs
      }, { pool, store, deviceId, membership: net.membership, fragments, queue: spreadQueue, logger, onBadFragment: (s, i, d, found) => { repairer?.suspect(s, i, d, found) }, domainOf: id => domains.domainOf(id), journalBehind: () => journalBehind(journal) })
      await this.#startPart('stripe placement', placed)
      stripes = placed
      const spreader = createSpreader({}, { queue: spreadQueue, membership: net.membership, fragments, store, deviceId, logger })
      await this.#startPart('spreader', spreader)
      const devices = placed.devices
      repairer = createRepairer({ graceMs: c.repairGraceMs, intervalMs: c.repairIntervalMs, bytesPerSecond: c.repairBytesPerSec, scrubIntervalMs: c.scrubIntervalMs, rebalanceSlack: c.rebalanceSlackPercent / 100, quarantineDir: join(paths.fragments, 'quarantine') }, {
        meta, stripes: placed, candidates: () => devices.candidates(), figures: () => devices.onlineFigures(), peerVectors: () => journal?.peerVectors() ?? new Map(), describe: id => devices.describe(id), membership: net.membership, fragments: net.fragments, store, deviceId, logger
      })
      await this.#startPart('repair', repairer)
      // A device removed from the swarm (on any device: the op replicates) is gone now, grace or not.
      const rebuild = repairer
      for (const id of removals.list()) rebuild.declareGone(id)
      removals.addEventListener('device:removed', (evt) => { rebuild.declareGone(evt.detail) })
      // A folder's user.palm.policy changed: its files are re-encoded in the background, within the
      // repair budget (off with repair: repairIntervalMs 0).
      if (c.repairIntervalMs > 0) {
        reencoder = createReencoder({ bytesPerSecond: c.repairBytesPerSec }, { meta, stripes: placed, policy: swarm.policy, online: () => rebuild.onlineDevices(), deviceId, logger })
        await this.#startPart('re-encoding', reencoder)
      }
    } else {
      stripes = createLocalStripeIO({ policy: swarm.policy }, { pool, store, deviceId, logger })
    }
    const membership = net?.membership
    const queue = spreadQueue
    const survey = createProtectionSurvey({}, {
      meta,
      deviceId,
      onlinePeers: () => membership?.peers().filter(p => p.online).map(p => p.id) ?? [],
      pendingSpread: () => queue?.count() ?? 0,
      logger
    })
    const vfs = createVfs({
      stripeSizeBytes: swarm.stripeSizeBytes,
      defaultPolicy: swarm.policy,
      dirtyLimitBytes: c.dirtyBytes,
      cacheLimitBytes: c.cacheBytes,
      readAheadBytes: c.readAheadStripes * swarm.stripeSizeBytes
    }, { meta, stripes, logger })
    await this.#startPart('file system', vfs)
    this.#parts = { paths, swarm, deviceId, store, meta, pool, net, journal, stripes, vfs, foreign, spreadQueue, survey, removals, keys, spotCheck, repairer, reencoder }

    if (this.#init.mountpoint != null) {
      this.#mount = await mountVfs(vfs, {
        mountpoint: this.#init.mountpoint,
        fsname: await mountSource(paths.home),
        allowOther: c.allowOther,
        entryTimeoutSec: c.attrTimeoutMs / 1000,
        attrTimeoutSec: c.attrTimeoutMs / 1000,
        opTimeoutMs: c.opTimeoutMs,
        slowOpMs: c.slowOpMs
      }, { logger })
      const mounted = this.#mount
      this.#stack.push({ name: 'mount', stop: async () => { await mounted.unmount() } })
      void mounted.closed.then(() => {
        if (this.#stopRequested) return
        this.#log('the mount at %s went away (unmounted from outside): stopping', mounted.mountpoint)
        this.#requestStop()
      })
    }
    if (this.#init.controlSocket ?? true) {
      // Only a running daemon collects garbage (an in-process `palm status` must not).
      const gc = repeatingTask('garbage collection', async (signal) => {
        const r = await runGc(this.parts, c, { signal })
        if (r.deleted > 0) this.#log('garbage collection deleted %d unused fragments (%d bytes)', r.deleted, r.freedBytes)
        if (r.putOff === true) this.#log('garbage collection put off to its next round: other devices\' ops kept arriving while it read the journal')
      }, { intervalMs: c.gcIntervalMs, timeoutMs: Math.max(c.gcIntervalMs, 60_000) }, this.#log)
      gc.start()
      this.#stack.push({ name: 'garbage collection', stop: gc.stop })
      if (c.dashboardPort >= 0) {
        const page = await startDashboard({
          port: c.dashboardPort,
          fallback: c.dashboardPort === DASHBOARD_DEFAULT_PORT,
          tokenFile: join(paths.home, 'dashboard.token'),
          deviceName: c.name,
          status: this.control.status,
          parts: this.parts,
          actions: {
            check: async (onProgress) => await this.control.fsck({ onProgress }),
            invite: async () => await this.control.invite(),
            drain: async (device, onProgress) => await this.control.drain(device, { onProgress }),
            remove: async (device) => await this.control.remove(device)
          },
          log: this.#log
        })
        this.#dashboardUrl = page.url
        this.#page = page
        this.#stack.push({ name: 'status page', stop: page.close })
      }
      this.#control = await startControlServer(paths.socket, this.control, this.#log)
      const control = this.#control
      this.#stack.push({ name: 'control socket', stop: async () => { await control.close() } })
    }
    // Mounted and answering status: now give the devices this one knew a short time to answer, so
    // that `palm mount` returns with the swarm found again (reads wait for them anyway).
    if (stripes instanceof PoolStripeIO && this.#init.controlSocket !== false) await this.#awaitSwarm(stripes, c.swarmWaitMs)
    this.#findingSwarm = false
    this.#log('device %s (%s) started%s', c.name, deviceId, this.#mount != null ? `, mounted at ${this.#mount.mountpoint}` : '')
  }

  #findingSwarm = true

  /** Waits until no device is expected back, or `boundMs` has passed; logs those still missing. */
  async #awaitSwarm (stripes: PoolStripeIO, boundMs: number): Promise<void> {
    if (boundMs <= 0) return
    const t0 = Date.now()
    const bound = AbortSignal.timeout(boundMs)
    while (stripes.devices.missing().length > 0 && !bound.aborted) await stripes.devices.changed(bound)
    const missing = stripes.devices.missing()
    if (missing.length > 0) this.#log('after %d ms still missing: %s', Date.now() - t0, missing.map(p => stripes.devices.describe(p.id)).join(', '))
    else this.#log('found every known device again in %d ms', Date.now() - t0)
  }

  #stopRequested = false

  /** The process that runs the daemon decides how to stop (unmount, exit); else stop here. */
  #requestStop (): void {
    this.#stopRequested = true
    if (this.#init.onStopRequested != null) this.#init.onStopRequested()
    else void this.stop().catch(err => { this.#log.error('stop failed: %e', err) })
  }

  async #startPart (name: string, part: { start: () => Promise<void>, stop: () => Promise<void> }): Promise<void> {
    await part.start()
    this.#stack.push({ name, stop: async () => { await part.stop() } })
  }

  protected async onStop (): Promise<void> {
    this.#stopRequested = true
    let first: unknown
    for (const part of this.#stack.splice(0).reverse()) {
      try {
        await part.stop()
      } catch (err) {
        first ??= err
        this.#log.error('stopping the %s failed: %e', part.name, err)
      }
    }
    this.#log('stopped')
    if (first !== undefined) throw first
  }

  /** The control API this daemon serves (socket and in-process). */
  readonly control: ControlApi = {
    status: async (): Promise<StatusReport> => await buildStatus(this.parts, this.config, {
      mountpoint: this.mountpoint,
      running: this.#control != null,
      starting: this.#control != null && this.#findingSwarm,
      dashboard: this.#dashboardUrl,
      uptimeMs: Date.now() - this.#startedAt
    }),
    peers: async (): Promise<PeerStatus[]> => peerStatus(this.parts),
    fsck: async (options = {}): Promise<FsckReport> => {
      const r = await runFsck(this.parts, { repair: options.repair === true, logger: this.#logger, onProgress: options.onProgress })
      this.#page?.event('check', r.clean ? `check: clean, ${r.stripesChecked} stripes` : `check found ${r.problems.length} problems (${r.counts.corrupt} corrupt, ${r.counts.missing} missing fragments)`)
      if (r.repaired > 0) this.#page?.event('repair', `repair rebuilt ${r.repaired} fragments`)
      return r
    },
    invite: async (options?: { ttlMs?: number }): Promise<InviteReport> => await inviteFor(this.parts, options),
    remove: async (device: string): Promise<RemoveReport> => await removeFor(this.parts, device),
    stop: async () => {
      this.#requestStop()
      return { stopping: true as const }
    },
    getFragment: async (cid: string): Promise<Uint8Array> => await getFragment(this.parts, cid),
    gc: async (options = {}) => await runGc(this.parts, this.config, options),
    info: async (path: string) => await fileInfo(this.parts, this.config.name, path),
    drain: async (device, options = {}) => await drainDevice(this.parts, this.config.name, device, options.onProgress)
  }
}
