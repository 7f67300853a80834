/** A logger (the `logger` option of createMetaStore and others) that keeps every error line it is given, for tests that assert on them. */
export function errorLogger (): { logger: never, errors: string[] } {
  const errors: string[] = []
  const logger = {
    forComponent: (name: string) => Object.assign((..._args: unknown[]) => {}, {
      enabled: false,
      trace: Object.assign(() => {}, { enabled: false }),
      error: Object.assign((fmt: string, ...args: unknown[]) => { errors.push(`${name} ${fmt} ${args.map(String).join(' ')}`) }, { enabled: true })
    })
  }
  return { logger: logger as never, errors }
}
