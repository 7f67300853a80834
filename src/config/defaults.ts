/**
 * The one option table (rclone OptionsInfo style). Every setting of PALM is here, with its default,
 * unit, help, environment variable and flag. It produces the `PalmConfig` type, the CLI help and the
 * README's settings section (`palm help settings`). Precedence: defaults < <home>/config.json <
 * environment < flags. Modules receive typed slices of the result, never `process.env`.
 */
import { availableParallelism, homedir, hostname } from 'node:os'
import { join } from 'node:path'
import type { PolicyValue } from './parse.js'

export type OptionType = 'string' | 'path' | 'size' | 'duration' | 'int' | 'bool' | 'policy' | 'list' | 'enum'

export interface OptionSpec<T> {
  type: OptionType
  /** The default, computed when the table is read (some depend on the home or the machine). */
  default: () => T
  help: string
  unit?: string
  env?: string
  flag?: string
  /** Allowed values (type 'enum'). */
  values?: readonly string[]
  /** Stored in <home>/config.json by `palm init`/`join` (device settings) rather than only read. */
  persisted?: boolean
}

function opt<T> (spec: OptionSpec<T>): OptionSpec<T> { return spec }

/** Durability rules for close(): when a stripe write counts as done (see docs/pool.md, "Durability rule"). */
export const DURABILITY_MODES = ['all', 'spread', 'local'] as const
export type DurabilityMode = typeof DURABILITY_MODES[number]

export const OPTIONS = {
  home: opt<string>({ type: 'path', default: () => join(homedir(), '.palm'), env: 'PALM_HOME', flag: '--home', help: "This device's PALM home: keys, journal, fragments, logs." }),
  mountpoint: opt<string>({ type: 'path', default: () => join(homedir(), 'palm'), env: 'PALM_MOUNTPOINT', help: 'Where `palm mount` mounts the folder when no MOUNTPOINT is given.' }),
  name: opt<string>({ type: 'string', default: () => hostname(), flag: '--name', persisted: true, help: 'A name for this device, shown to the other devices.' }),
  domain: opt<string>({ type: 'string', default: () => '', flag: '--domain', env: 'PALM_DOMAIN', persisted: true, help: 'The failure domain of this device (the machine, rack or house it shares with other devices): placement keeps fewer than k fragments of a stripe per domain. Devices that declare none are each their own.' }),
  capacityBytes: opt<number>({ type: 'size', default: () => 0, unit: 'bytes', flag: '--capacity', env: 'PALM_CAPACITY', persisted: true, help: 'Disk space this device offers to the swarm (10G, 500M). 0 means 90% of the free space of the disk holding the home.' }),
  minCapacityBytes: opt<number>({ type: 'size', default: () => 2 ** 30, unit: 'bytes', env: 'PALM_MIN_CAPACITY', help: 'The smallest capacity `palm init`/`join` accept (tests and demos on one disk lower it).' }),
  policy: opt<PolicyValue>({ type: 'policy', default: () => ({ k: 4, n: 6 }), flag: '--policy', help: 'Swarm default: any k of n fragments rebuild a stripe ("4-of-6"). Set at `palm init`; a folder may override it with the xattr user.palm.policy.' }),
  stripeSizeBytes: opt<number>({ type: 'size', default: () => 4 * 2 ** 20, unit: 'bytes', env: 'PALM_STRIPE_SIZE', help: 'Stripe size for new files (see docs/chunk-format.md for why 4 MiB).' }),
  fragmentFormat: opt<number>({ type: 'int', default: () => 2, env: 'PALM_FRAGMENT_FORMAT', help: 'Fragment format version of new stripes (docs/chunk-format.md, "Format versions"): 2 (BLAKE3) or 1 (SHA-256, for a swarm whose other devices run a palm that does not read 2 yet). Every version this palm knows is read and repaired whatever this says.' }),
  cacheBytes: opt<number>({ type: 'size', default: () => 256 * 2 ** 20, unit: 'bytes', env: 'PALM_CACHE_SIZE', flag: '--cache-size', help: 'Memory for decoded stripes (read cache).' }),
  dirtyBytes: opt<number>({ type: 'size', default: () => 256 * 2 ** 20, unit: 'bytes', env: 'PALM_WRITE_BUFFER', flag: '--write-buffer', help: 'Memory for written data not yet stored (all open files together); writers wait beyond it.' }),
  readAheadStripes: opt<number>({ type: 'int', default: () => 4, unit: 'stripes', env: 'PALM_READ_AHEAD', help: 'Stripes fetched ahead of a sequential reader.' }),
  workers: opt<number>({ type: 'int', default: () => availableParallelism(), unit: 'threads', env: 'PALM_WORKERS', help: 'Worker threads that encode and decode stripes.' }),
  attrTimeoutMs: opt<number>({ type: 'duration', default: () => 1000, unit: 'ms', env: 'PALM_ATTR_TIMEOUT', help: 'How long the kernel may cache attributes and names.' }),
  opTimeoutMs: opt<number>({ type: 'duration', default: () => 10_000, unit: 'ms', env: 'PALM_OP_TIMEOUT', help: 'Deadline of one file system operation (flush, fsync and release get 4×); past it the operation fails with EIO and a log line.' }),
  slowOpMs: opt<number>({ type: 'duration', default: () => 1000, unit: 'ms', env: 'PALM_SLOW_OP', help: 'File system operations slower than this are logged.' }),
  readFailMs: opt<number>({ type: 'duration', default: () => 5000, unit: 'ms', env: 'PALM_READ_FAIL', help: 'A read that cannot gather k fragments fails with EIO after at most this long. Within it, a read that needs devices expected back (offline but seen within the repair grace: restarting, or not found again yet after this device started) waits for them.' }),
  swarmWaitMs: opt<number>({ type: 'duration', default: () => 5000, unit: 'ms', env: 'PALM_SWARM_WAIT', help: 'At start, `palm mount` and `palm serve` wait up to this long for the devices this one knew (seen within the repair grace) to answer; `palm status` lists those still missing. 0 = do not wait.' }),
  durability: opt<DurabilityMode>({ type: 'enum', values: DURABILITY_MODES, default: () => 'all', env: 'PALM_DURABILITY', flag: '--durability', persisted: true, help: 'When close() returns (docs/pool.md): all = every fragment acknowledged by the device it went to (a missing device\'s fragments go to the next one and are queued for it); spread = as soon as k+1 devices (or all online ones) hold fragments, stragglers get as long again and are then kept here and queued; local = all fragments on this device, copies made in the background (fastest, no protection against losing this device until they are).' }),
  placeTimeoutMs: opt<number>({ type: 'duration', default: () => 10_000, unit: 'ms', env: 'PALM_PLACE_TIMEOUT', help: 'A device that has not stored the fragments sent to it within this long (plus 1 ms per KB) is treated as failing: they go to the next device.' }),
  listen: opt<string[]>({ type: 'list', default: () => ['/ip4/0.0.0.0/tcp/0'], env: 'PALM_LISTEN', flag: '--listen', persisted: true, help: 'Multiaddrs to listen on (repeat the flag for several).' }),
  mdns: opt<boolean>({ type: 'bool', default: () => true, env: 'PALM_MDNS', flag: '--mdns', persisted: true, help: 'Find devices of this swarm on the local network by mDNS.' }),
  mdnsServiceTag: opt<string>({ type: 'string', default: () => 'palm', env: 'PALM_MDNS_TAG', persisted: true, help: 'mDNS service name; devices only see others with the same tag.' }),
  dht: opt<boolean>({ type: 'bool', default: () => true, env: 'PALM_DHT', flag: '--dht', persisted: true, help: 'Run the LAN-only Kademlia DHT (devices on other subnets, fragment providers).' }),
  network: opt<boolean>({ type: 'bool', default: () => true, env: 'PALM_NETWORK', flag: '--network', persisted: true, help: 'Take part in the swarm over the network (off: this device alone, no listening socket).' }),
  gossipIntervalMs: opt<number>({ type: 'duration', default: () => 2000, unit: 'ms', env: 'PALM_GOSSIP_INTERVAL', help: 'How often each device announces its health and capacity.' }),
  offlineAfterMs: opt<number>({ type: 'duration', default: () => 8000, unit: 'ms', env: 'PALM_OFFLINE_AFTER', help: 'A device not heard from for this long is offline.' }),
  journalSyncIntervalMs: opt<number>({ type: 'duration', default: () => 2000, unit: 'ms', env: 'PALM_JOURNAL_SYNC_INTERVAL', help: 'How often a device whose journal grew tells its peers, which then pull what they lack (new ops are also pushed, within journalPushGapMs; every 30 s the journals are compared regardless).' }),
  journalPushGapMs: opt<number>({ type: 'duration', default: () => 100, unit: 'ms', env: 'PALM_JOURNAL_PUSH_GAP', help: 'A push of new ops to a peer starts at least this long after the previous one, so that ops committed meanwhile travel, apply and commit there together (0: every commit at once).' }),
  clockOffsetMs: opt<number>({ type: 'duration', default: () => 0, unit: 'ms', env: 'PALM_CLOCK_OFFSET', help: 'For tests only: runs this device\'s journal clock this far ahead of the system clock (a device whose clock is wrong).' }),
  repairGraceMs: opt<number>({ type: 'duration', default: () => 24 * 60 * 60_000, unit: 'ms', env: 'PALM_REPAIR_GRACE', help: 'An offline device seen within this long is expected back (a laptop asleep overnight, a restart): fragments meant for it are queued for it and reads wait for it. Past it the device is gone and its fragments are rebuilt on other devices (docs/repair.md). A stripe down to k reachable fragments is rebuilt at once, whatever the grace.' }),
  repairIntervalMs: opt<number>({ type: 'duration', default: () => 5000, unit: 'ms', env: 'PALM_REPAIR_INTERVAL', help: 'How often repair looks at the stripes (sooner after a read found a bad fragment or a device was declared gone); 0 turns repair off (tests of other layers; `palm drain` still works).' }),
  repairBytesPerSec: opt<number>({ type: 'size', default: () => 32 * 2 ** 20, unit: 'bytes/s', env: 'PALM_REPAIR_RATE', help: 'Bandwidth budget of lazy repairs (stripes still 2 or more fragments above k): bytes fetched and stored per second by this device. Stripes at k or k + 1 are repaired at full speed.' }),
  rebalanceSlackPercent: opt<number>({ type: 'int', default: () => 5, unit: '%', env: 'PALM_REBALANCE_SLACK', help: 'Rebalance: a device fuller (used / capacity) than the swarm\'s mean by more than this many percentage points moves its own fragments to emptier devices (a device that joined or freed space), never lowering any stripe\'s protection; 0 = never rebalance (docs/repair.md).' }),
  scrubIntervalMs: opt<number>({ type: 'duration', default: () => 7 * 24 * 60 * 60_000, unit: 'ms', env: 'PALM_SCRUB_INTERVAL', help: 'How often the local store is scrubbed: every fragment re-read and checked against its CID (at most 32 MiB/s); bad ones are quarantined and rebuilt (0 = never).' }),
  gcGraceMs: opt<number>({ type: 'duration', default: () => 60 * 60_000, unit: 'ms', env: 'PALM_GC_GRACE', help: 'Unreferenced fragments younger than this are never collected.' }),
  foreignGcGraceMs: opt<number>({ type: 'duration', default: () => 24 * 60 * 60_000, unit: 'ms', env: 'PALM_FOREIGN_GC_GRACE', help: 'Fragments other devices stored here that no file of the replicated journal references are kept this long after they were stored (the journal ops of the device that placed them may still be on their way).' }),
  gcIntervalMs: opt<number>({ type: 'duration', default: () => 60 * 60_000, unit: 'ms', env: 'PALM_GC_INTERVAL', help: 'How often garbage collection runs (0 = never).' }),
  dashboardPort: opt<number>({ type: 'int', default: () => 7256, env: 'PALM_DASHBOARD_PORT', flag: '--dashboard-port', help: 'Port of the status page on 127.0.0.1 (0 = any free port; -1 = off). When the default 7256 is taken (another device of this machine), a free port is used; `palm status` prints the address with its token.' }),
  allowNonEmpty: opt<boolean>({ type: 'bool', default: () => false, env: 'PALM_ALLOW_NON_EMPTY', flag: '--allow-non-empty', help: 'Mount over a folder that has files in it (they are hidden while mounted), as rclone\'s flag of that name.' }),
  allowOther: opt<boolean>({ type: 'bool', default: () => false, env: 'PALM_ALLOW_OTHER', flag: '--allow-other', help: 'Let other users of this machine use the mount (needs user_allow_other in /etc/fuse.conf unless root).' })
} as const

type ValueOf<S> = S extends OptionSpec<infer T> ? T : never

/** The resolved configuration: one typed value per option. */
export type PalmConfig = { -readonly [K in keyof typeof OPTIONS]: ValueOf<typeof OPTIONS[K]> }

export type OptionKey = keyof typeof OPTIONS
