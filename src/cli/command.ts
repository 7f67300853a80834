/** The shape of one CLI command (one file per command in src/cli/commands/). */
export interface Command {
  name: string
  /** One line for `palm help`. */
  summary: string
  /** Usage line(s) and flags for `palm help NAME`. */
  usage: () => string
  /** Runs the command; resolves with the exit code. */
  run: (argv: string[]) => Promise<number>
}
