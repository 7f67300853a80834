/**
 * The MetaStore compliance suite against the SQLite journal: a file-backed database and ':memory:'.
 */
import { join } from 'node:path'
import { describe } from 'node:test'
import { createMetaStore } from '../../../src/meta/index.js'
import type { MetaStore } from '../../../src/meta/types.js'
import { metaStoreTests } from '../../compliance/meta-store-tests.js'
import { createTempDir } from '../../helpers/tmp.js'

describe('SqliteMetaStore on a file', () => {
  metaStoreTests({
    setup: async (t, options = {}) => {
      const dir = await createTempDir(t, 'palm-meta-')
      const s = createMetaStore({ path: join(dir, 'journal.db'), deviceId: options.deviceId ?? 'dev-a', ...options })
      await s.start()
      return s
    },
    teardown: async (s: MetaStore) => { await s.stop() }
  })
})

describe('SqliteMetaStore in memory', () => {
  metaStoreTests({
    setup: async (_t, options = {}) => {
      const s = createMetaStore({ path: ':memory:', deviceId: options.deviceId ?? 'dev-a', ...options })
      await s.start()
      return s
    },
    teardown: async (s: MetaStore) => { await s.stop() }
  })
})
