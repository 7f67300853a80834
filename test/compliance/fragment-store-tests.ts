/**
 * The FragmentStore contract, run against every implementation (js-stores interface tests style):
 * `fragmentStoreTests({ setup, teardown, corrupt })` inside a describe block. Each test gets a
 * fresh started store from `setup` and gives it back to `teardown`, failures included.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { it } from 'node:test'
import type { FragmentAges, FragmentStore } from '../../src/store/types.js'
import { cidOf, type CID } from '../../src/util/cid.js'

export interface StoreUnderTest extends FragmentStore, FragmentAges {}

export interface FragmentStoreTestTarget<S extends StoreUnderTest> {
  /** A fresh, started store; `capacityBytes` undefined means "more than any test needs". */
  setup: (options: { capacityBytes?: number }) => Promise<S>
  /** Stops the store and removes what it created. */
  teardown: (store: S) => Promise<void>
  /**
   * Replaces the stored copy of `cid` with `bytes` behind the store's back (bit rot; a shorter
   * `bytes` is a copy truncated by power loss). The store holds only `cid`, or `cid` was put last.
   */
  corrupt: (store: S, cid: CID, bytes: Uint8Array) => Promise<void>
  /** Stops the store and starts a new one on the same data (persistent stores only). */
  reopen?: (store: S) => Promise<S>
}

export interface TestFragment {
  cid: CID
  bytes: Uint8Array
}

/** A random fragment of `size` bytes with its CID. */
export function randomFragment (size: number): TestFragment {
  const bytes = new Uint8Array(randomBytes(size))
  return { cid: cidOf(bytes), bytes }
}

async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

function aborted (): AbortSignal {
  const c = new AbortController()
  c.abort()
  return c.signal
}

export function fragmentStoreTests<S extends StoreUnderTest> (target: FragmentStoreTestTarget<S>): void {
  /** Runs `fn` with a fresh store; the store is torn down on every path. */
  async function withStore (fn: (store: S) => Promise<S | undefined | void>, capacityBytes?: number): Promise<void> {
    let store: S = await target.setup({ capacityBytes })
    try {
      const replaced = await fn(store)
      if (replaced != null) store = replaced
    } finally {
      await target.teardown(store)
    }
  }

  it('round-trips fragments of 0 B, 1 KiB, 64 KiB ± 1 and 1 MiB', async () => {
    await withStore(async store => {
      const frags = [0, 1024, 65535, 65536, 65537, 1024 * 1024].map(randomFragment)
      for (const f of frags) await store.put(f.cid, f.bytes)
      for (const f of frags) {
        assert.deepEqual(new Uint8Array(await store.get(f.cid)), f.bytes)
        assert.equal(await store.has(f.cid), true)
      }
      assert.equal(store.usage().fragmentCount, frags.length)
      assert.equal(store.usage().usedBytes, frags.reduce((n, f) => n + f.bytes.byteLength, 0))
    })
  })

  it('reports an absent fragment as NotFoundError and has() false', async () => {
    await withStore(async store => {
      const f = randomFragment(100)
      assert.equal(await store.has(f.cid), false)
      await assert.rejects(store.get(f.cid), { name: 'NotFoundError', code: 'ENOENT' })
    })
  })

  it('stores a repeated put once', async () => {
    await withStore(async store => {
      const f = randomFragment(2048)
      await store.put(f.cid, f.bytes)
      await store.put(f.cid, f.bytes)
      assert.deepEqual(store.usage(), { ...store.usage(), fragmentCount: 1, usedBytes: 2048 })
      assert.equal((await collect(store.list())).length, 1)
    })
  })

  it('refuses bytes that do not match the CID and stores nothing', async () => {
    await withStore(async store => {
      for (const size of [10, 200_000]) {
        const f = randomFragment(size)
        const wrong = f.bytes.slice()
        wrong[0] ^= 0xff
        await assert.rejects(store.put(f.cid, wrong), { name: 'IntegrityError', code: 'EIO' })
        assert.equal(await store.has(f.cid), false)
      }
      assert.equal(store.usage().fragmentCount, 0)
      assert.equal(store.usage().usedBytes, 0)
    })
  })

  for (const [label, size] of [['small', 1500], ['large', 300_000]] as const) {
    it(`detects a corrupt ${label} fragment on get, quarantines it, and takes a good copy again`, async () => {
      await withStore(async store => {
        const f = randomFragment(size)
        await store.put(f.cid, f.bytes)
        const bad = f.bytes.slice()
        bad[size >> 1] ^= 0x01
        await target.corrupt(store, f.cid, bad)
        await assert.rejects(store.get(f.cid), (err: Error & { code?: string }) => {
          assert.equal(err.name, 'IntegrityError')
          assert.equal(err.code, 'EIO')
          assert.match(err.message, new RegExp(f.cid.toString()))
          return true
        })
        assert.equal(await store.has(f.cid), false, 'the corrupt copy is out of the store')
        assert.equal(store.usage().fragmentCount, 0)
        await store.put(f.cid, f.bytes)
        assert.deepEqual(new Uint8Array(await store.get(f.cid)), f.bytes)
      })
    })

    it(`treats a truncated or empty ${label} fragment as corrupt, not as a crash`, async () => {
      for (const keep of [0, size >> 1]) {
        await withStore(async store => {
          const f = randomFragment(size)
          await store.put(f.cid, f.bytes)
          await target.corrupt(store, f.cid, f.bytes.subarray(0, keep))
          await assert.rejects(store.get(f.cid), { name: 'IntegrityError' })
          await assert.rejects(store.get(f.cid), { name: 'NotFoundError' })
          await store.put(f.cid, f.bytes)
          assert.deepEqual(new Uint8Array(await store.get(f.cid)), f.bytes)
        })
      }
    })
  }

  it('refuses a put past its capacity with QuotaExceededError, and takes it after a delete', async () => {
    await withStore(async store => {
      const frags = Array.from({ length: 4 }, () => randomFragment(1000))
      for (const f of frags.slice(0, 3)) await store.put(f.cid, f.bytes)
      await assert.rejects(store.put(frags[3].cid, frags[3].bytes), { name: 'QuotaExceededError', code: 'EDQUOT' })
      assert.equal(await store.has(frags[3].cid), false)
      const u = store.usage()
      assert.equal(u.capacityBytes, 3500)
      assert.equal(u.usedBytes, 3000)
      assert.ok(u.freeBytes <= 500)
      await store.put(frags[0].cid, frags[0].bytes) // a repeated put needs no room
      await store.delete(frags[0].cid)
      await store.put(frags[3].cid, frags[3].bytes)
      assert.equal(store.usage().usedBytes, 3000)
    }, 3500)
  })

  it('never overshoots its capacity under parallel puts', async () => {
    await withStore(async store => {
      const frags = Array.from({ length: 100 }, () => randomFragment(1000))
      const results = await Promise.allSettled(frags.map(async f => { await store.put(f.cid, f.bytes) }))
      const ok = results.filter(r => r.status === 'fulfilled').length
      assert.equal(ok, 50)
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as Error).name, 'QuotaExceededError')
      assert.equal(store.usage().usedBytes, 50_000)
      assert.equal(store.usage().fragmentCount, 50)
    }, 50_500)
  })

  it('deletes: absent is not an error; present frees its bytes', async () => {
    await withStore(async store => {
      const a = randomFragment(700)
      const b = randomFragment(100_000)
      await store.delete(a.cid)
      await store.put(a.cid, a.bytes)
      await store.put(b.cid, b.bytes)
      await store.delete(a.cid)
      await store.delete(b.cid)
      await store.delete(b.cid)
      assert.equal(await store.has(a.cid), false)
      assert.equal(await store.has(b.cid), false)
      await assert.rejects(store.get(b.cid), { name: 'NotFoundError' })
      assert.equal(store.usage().usedBytes, 0)
      assert.equal(store.usage().fragmentCount, 0)
    })
  })

  it('lists exactly the stored fragments, with sizes and ages in entries()', async () => {
    await withStore(async store => {
      const before = Date.now()
      const frags = [100, 5000, 70_000, 200_000, 300].map(randomFragment)
      for (const f of frags) await store.put(f.cid, f.bytes)
      await store.delete(frags[1].cid)
      await store.delete(frags[3].cid)
      const expected = [frags[0], frags[2], frags[4]].map(f => f.cid.toString()).sort()
      assert.deepEqual((await collect(store.list())).map(c => c.toString()).sort(), expected)
      const entries = await collect(store.entries())
      assert.deepEqual(entries.map(e => e.cid.toString()).sort(), expected)
      for (const e of entries) {
        const f = frags.find(x => x.cid.equals(e.cid))
        assert.equal(e.sizeBytes, f?.bytes.byteLength)
        assert.ok(e.storedAtMs >= before - 1000 && e.storedAtMs <= Date.now() + 1000, `age of ${e.cid.toString()}`)
      }
    })
  })

  it('deleteIfOlder keeps a fragment put after the cutoff, including one put again', async () => {
    await withStore(async store => {
      const small = randomFragment(800)
      const large = randomFragment(90_000)
      for (const f of [small, large]) await store.put(f.cid, f.bytes)
      for (const f of [small, large]) assert.equal(await store.deleteIfOlder(f.cid, Date.now() - 60_000), false)
      await new Promise(resolve => setTimeout(resolve, 30))
      const cutoff = Date.now()
      await new Promise(resolve => setTimeout(resolve, 30))
      await store.put(small.cid, small.bytes)
      await store.put(large.cid, large.bytes)
      for (const f of [small, large]) assert.equal(await store.deleteIfOlder(f.cid, cutoff), false, 'a repeated put refreshes the age')
      for (const f of [small, large]) assert.equal(await store.deleteIfOlder(f.cid, Date.now() + 60_000), true)
      assert.equal(store.usage().fragmentCount, 0)
      assert.equal(await store.deleteIfOlder(small.cid, Date.now() + 60_000), false, 'absent: nothing deleted')
    })
  })

  it('syncs everything, given fragments, unknown fragments, and many concurrent callers', async () => {
    await withStore(async store => {
      const frags = [300, 3000, 100_000, 400_000].map(randomFragment)
      await Promise.all(frags.map(async f => { await store.put(f.cid, f.bytes) }))
      await store.sync([frags[0].cid, frags[2].cid])
      await store.sync([randomFragment(10).cid])
      await Promise.all([store.sync(), ...frags.map(async f => { await store.sync([f.cid]) }), store.sync()])
      await store.sync()
      for (const f of frags) assert.deepEqual(new Uint8Array(await store.get(f.cid)), f.bytes)
    })
  })

  it('rejects every call with a fired signal as AbortedError and stores nothing', async () => {
    await withStore(async store => {
      const f = randomFragment(100)
      const g = randomFragment(200_000)
      await store.put(g.cid, g.bytes)
      const signal = aborted()
      const expected = { name: 'AbortedError', code: 'EINTR' }
      await assert.rejects(store.put(f.cid, f.bytes, { signal }), expected)
      await assert.rejects(store.get(g.cid, { signal }), expected)
      await assert.rejects(store.has(g.cid, { signal }), expected)
      await assert.rejects(store.delete(g.cid, { signal }), expected)
      await assert.rejects(store.sync(undefined, { signal }), expected)
      await assert.rejects(collect(store.list({ signal })), expected)
      assert.equal(await store.has(f.cid), false)
      assert.equal(await store.has(g.cid), true)
    })
  })

  it('stores 100 parallel puts of one CID once', async () => {
    await withStore(async store => {
      for (const size of [1000, 150_000]) {
        const f = randomFragment(size)
        await Promise.all(Array.from({ length: 100 }, async () => { await store.put(f.cid, f.bytes.slice()) }))
        assert.deepEqual(new Uint8Array(await store.get(f.cid)), f.bytes)
      }
      assert.equal(store.usage().fragmentCount, 2)
      assert.equal(store.usage().usedBytes, 151_000)
    })
  })

  it('serves parallel puts, gets and deletes of many fragments consistently', async () => {
    await withStore(async store => {
      const frags = Array.from({ length: 200 }, (_, i) => randomFragment(i % 10 === 0 ? 80_000 : 500 + i))
      await Promise.all(frags.map(async f => { await store.put(f.cid, f.bytes) }))
      const gone = frags.filter((_, i) => i % 3 === 0)
      const kept = frags.filter((_, i) => i % 3 !== 0)
      await Promise.all([
        ...gone.map(async f => { await store.delete(f.cid) }),
        ...kept.map(async f => { assert.deepEqual(new Uint8Array(await store.get(f.cid)), f.bytes) })
      ])
      assert.equal(store.usage().fragmentCount, kept.length)
      assert.equal(store.usage().usedBytes, kept.reduce((n, f) => n + f.bytes.byteLength, 0))
      assert.equal((await collect(store.list())).length, kept.length)
    })
  })

  if (target.reopen != null) {
    const reopen = target.reopen
    it('keeps fragments, deletions and usage across a restart', async () => {
      await withStore(async first => {
        const frags = [100, 2000, 70_000, 500_000, 40].map(randomFragment)
        for (const f of frags) await first.put(f.cid, f.bytes)
        await first.delete(frags[1].cid)
        await first.delete(frags[3].cid)
        const usage = first.usage()
        const store = await reopen(first)
        assert.equal(store.usage().usedBytes, usage.usedBytes)
        assert.equal(store.usage().fragmentCount, usage.fragmentCount)
        for (const i of [0, 2, 4]) assert.deepEqual(new Uint8Array(await store.get(frags[i].cid)), frags[i].bytes)
        for (const i of [1, 3]) assert.equal(await store.has(frags[i].cid), false)
        return store
      })
    })
  }
}
