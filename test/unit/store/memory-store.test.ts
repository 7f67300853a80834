import { describe } from 'node:test'
import { MemoryFragmentStore } from '../../../src/store/index.js'
import { fragmentStoreTests } from '../../compliance/fragment-store-tests.js'

describe('MemoryFragmentStore: FragmentStore compliance', () => {
  fragmentStoreTests<MemoryFragmentStore>({
    setup: async ({ capacityBytes }) => {
      const store = new MemoryFragmentStore({ capacityBytes })
      await store.start()
      return store
    },
    teardown: async store => { await store.stop() },
    corrupt: async (store, cid, bytes) => { store.corrupt(cid, bytes) }
  })
})
