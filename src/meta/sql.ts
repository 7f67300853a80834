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
