/**
 * A commit's bound texts (sql.ts `BoundJson`, Db.execBatch) reach the transaction whatever their
 * number: SQLite takes at most 32,766 parameters per statement, and op bodies and undo records are
 * bound one text each, so a large merge binds tens of thousands.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Db } from '../../../src/meta/db.js'
import { BOUND_JSON_TABLE } from '../../../src/meta/sql.js'

describe('Db.execBatch bound texts', () => {
  for (const n of [1, 3, 8192, 8193, 40_000]) {
    it(`binds ${n} texts, each in its slot, and leaves none behind`, async () => {
      const db = await Db.open(':memory:')
      try {
        await db.exec('CREATE TABLE seen(n INTEGER, slots INTEGER, bad INTEGER)')
        const texts = Array.from({ length: n }, (_, i) => `t${i}`)
        await db.execBatch([`INSERT INTO seen SELECT count(*), sum(slot), sum(text <> 't' || slot) FROM ${BOUND_JSON_TABLE} WHERE text <> '[]';`], texts)
        assert.deepEqual(await db.all('SELECT n, slots, bad FROM seen'), [{ n, slots: n * (n - 1) / 2, bad: 0 }])
        assert.deepEqual(await db.all(`SELECT count(*) AS left FROM ${BOUND_JSON_TABLE}`), [{ left: 0 }])
      } finally {
        await db.close()
      }
    })
  }
})
