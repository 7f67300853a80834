import { describe } from 'node:test'
import type { FsFragmentStore, FsStoreInit } from '../../../src/store/index.js'
import { fragmentStoreTests } from '../../compliance/fragment-store-tests.js'
import { corruptOnDisk, reopenStore, setupStore, teardownStore } from './fs-helpers.js'

const variants: Array<[string, Partial<FsStoreInit>]> = [
  ['default (packs below 1 MiB, files from 1 MiB)', {}],
  ['files only (packThresholdBytes 0)', { packThresholdBytes: 0 }],
  ['packs only, 64 KiB segments', { packThresholdBytes: 2 * 1024 * 1024, segmentBytes: 64 * 1024 }]
]

for (const [label, init] of variants) {
  describe(`FsFragmentStore ${label}: FragmentStore compliance`, () => {
    fragmentStoreTests<FsFragmentStore>({
      setup: async ({ capacityBytes }) => await setupStore({ ...init, capacityBytes: capacityBytes ?? 1024 ** 3 }),
      teardown: teardownStore,
      corrupt: corruptOnDisk,
      reopen: async store => await reopenStore(store, init)
    })
  })
}
