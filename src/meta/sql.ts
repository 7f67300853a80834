/**
 * SQL literals for generated multi-statement batches. node-sqlite3 costs one threadpool round trip
 * per statement, so a commit is one `exec` of a generated string; every value goes through these
 * helpers, which escape or reject it, never through string concatenation of raw input.
 */
import { InvalidArgumentError } from '../errors.js'

/** A quoted SQL string literal. Rejects NUL (it would end the C string that sqlite3_exec parses). */
export function sqlText (value: string): string {
  if (value.includes('\0')) throw new InvalidArgumentError(`text ${JSON.stringify(value.slice(0, 40))} contains a NUL byte, which file system names and values cannot hold`)
  return `'${value.replaceAll("'", "''")}'`
}

/**
 * A quoted SQL string literal of JSON text (JSON.stringify's output, which escapes NUL): the large
 * literals `json_each` reads. Scanned once for a quote and copied only when it has one.
 */
export function sqlJson (json: string): string {
  return `'${json.includes("'") ? json.replaceAll("'", "''") : json}'`
}

/** The temporary table that holds a commit's bound JSON texts (Db.execBatch), one row per text. */
export const BOUND_JSON_TABLE = 'temp.commit_json'

/**
 * The large JSON texts of one commit, handed to SQLite as bound parameters instead of quoted into
 * its SQL: Db.execBatch stores them in BOUND_JSON_TABLE with one prepared statement just before
 * the transaction, whose statements read them back by slot. The text of a commit then stays a few
 * kilobytes whatever its size: no megabyte literal to scan for quotes, copy into the joined
 * transaction and hand to SQLite's tokenizer (docs/journal.md, Measurements).
 */
export class BoundJson {
  readonly texts: string[] = []

  /** The SQL expression (for `json_each`) that reads `json` inside the commit. */
  arg (json: string): string {
    this.texts.push(json)
    return `(SELECT json FROM ${BOUND_JSON_TABLE} WHERE slot=${this.texts.length - 1})`
  }
}

/** `json` as `json_each`'s argument: bound when the commit binds its JSON, else a quoted literal. */
export function jsonArg (json: string, bound?: BoundJson): string {
  return bound == null ? sqlJson(json) : bound.arg(json)
}

/** An integer literal; rejects anything that is not a safe integer. */
export function sqlInt (value: number): string {
  if (!Number.isSafeInteger(value)) throw new InvalidArgumentError(`${String(value)} is not an integer the journal can store exactly`)
  return String(value)
}

/** A 64-bit integer literal from a bigint (HLC timestamps). */
export function sqlBigInt (value: bigint): string {
  return value.toString()
}

/** A blob literal X'…'. */
export function sqlBlob (value: Uint8Array): string {
  return `X'${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}'`
}

/** NULL or the literal made by `fn`. */
export function sqlOrNull<T> (value: T | undefined | null, fn: (v: T) => string): string {
  return value == null ? 'NULL' : fn(value)
}
