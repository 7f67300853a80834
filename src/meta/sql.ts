/**
 * SQL literals for generated multi-statement batches. node-sqlite3 costs one threadpool round trip
 * per statement, so a commit is one `exec` of a generated string; every value goes through these
 * helpers, which escape or reject it, never through string concatenation of raw input, or is a
 * bound parameter (`BoundJson`: a commit's rows).
 */
import { InvalidArgumentError } from '../errors.js'

/** A quoted SQL string literal. Rejects NUL (it would end the C string that sqlite3_exec parses). */
export function sqlText (value: string): string {
  if (value.includes('\0')) throw new InvalidArgumentError(`text ${JSON.stringify(value.slice(0, 40))} contains a NUL byte, which file system names and values cannot hold`)
  return `'${value.replaceAll("'", "''")}'`
}

/** The temporary table that holds a commit's bound JSON texts (Db.execBatch): `slot`, `text`. */
export const BOUND_JSON_TABLE = 'temp.commit_json'

/**
 * Rows per bound JSON text. A text of a few dozen rows stays a small string: one megabyte text per
 * table cost more to flatten (V8 builds JSON.stringify's output in parts) into a fresh large
 * object than to build, and again in each native copy on first touch of its pages (measured:
 * docs/journal.md, Measurements).
 */
export const BOUND_ROWS_PER_TEXT = 64

/**
 * The rows a commit writes, handed to SQLite as bound parameters instead of quoted into its SQL:
 * Db.execBatch stores the JSON texts in BOUND_JSON_TABLE with one prepared statement just before
 * the transaction, whose statements read them back by slot. The text of a commit then stays a few
 * kilobytes whatever its size: no megabyte literal to scan for quotes, copy into the joined
 * transaction and hand to SQLite's tokenizer.
 */
export class BoundJson {
  readonly texts: string[] = []

  /**
   * Binds `value` as it is, in a slot of its own, and returns the slot (a statement reads it with
   * `(SELECT text FROM BOUND_JSON_TABLE WHERE slot=…)`). Call it before `rows` for the rows that
   * name the slot: the slots of one `rows` call must follow each other.
   */
  text (value: string): number {
    this.texts.push(value)
    return this.texts.length - 1
  }

  /** `json_each` rows over `rows` for a FROM clause (with its WHERE), each row's fields as `value->>i`. */
  rows (rows: unknown[]): string {
    const first = this.texts.length
    for (let i = 0; i < rows.length; i += BOUND_ROWS_PER_TEXT) this.texts.push(JSON.stringify(rows.slice(i, i + BOUND_ROWS_PER_TEXT)))
    // The table's primary key orders the texts, json_each each text's rows: the rows keep their order.
    return `${BOUND_JSON_TABLE} b, json_each(b.text) WHERE b.slot BETWEEN ${first} AND ${this.texts.length - 1}`
  }
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
