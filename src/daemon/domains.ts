/**
 * Failure domains (issue 15, docs/security.md): each device may declare the machine, rack or house
 * it shares with others (`--domain`), as a signed `setDomain` op; placement keeps fewer than k
 * fragments of a stripe per declared domain. This keeps the journal's declarations in memory for
 * placement's synchronous look-ups, re-read whenever a committed batch may have changed them.
 */
import type { MetaStore } from '../meta/index.js'
import type { Logger } from '../util/logger.js'

export class FailureDomains {
  readonly #meta: Pick<MetaStore, 'domains' | 'setDomain' | 'onChange'>
  readonly #log: Logger
  #domains = new Map<string, string>()
  #unsubscribe?: () => void
  #reading?: Promise<void>
  #again = false

  constructor (meta: Pick<MetaStore, 'domains' | 'setDomain' | 'onChange'>, log: Logger) {
    this.#meta = meta
    this.#log = log
  }

  /** Declares this device's domain ('' for none; nothing is logged when the journal has it) and follows the others'. */
  async start (own: string): Promise<void> {
    await this.#meta.setDomain(own)
    this.#domains = await this.#meta.domains()
    this.#unsubscribe = this.#meta.onChange((c) => { if (c.members === true) this.#refresh() })
  }

  stop (): void {
    this.#unsubscribe?.()
  }

  domainOf (device: string): string | undefined {
    return this.#domains.get(device)
  }

  #refresh (): void {
    if (this.#reading != null) { this.#again = true; return }
    this.#reading = (async () => {
      do {
        this.#again = false
        this.#domains = await this.#meta.domains()
      } while (this.#again)
    })().catch((err: Error) => { this.#log.error('could not read the failure domains from the journal: %s', err.message) })
      .finally(() => { this.#reading = undefined })
  }
}
