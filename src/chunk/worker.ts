/**
 * Entry point of a chunk pool worker thread: encodes, decodes or rebuilds fragments of one stripe at a time and sends the
 * results back with their buffers transferred (never copied); a stripe decoded into the caller's
 * shared memory (`into`) goes back as that same memory.
 */
import '../util/polyfill.js'
import { parentPort, workerData } from 'node:worker_threads'
import { loadReedSolomonWasm } from '../../native/rs/index.js'
import { isKnownCodec, reedSolomonCodec } from './codec.js'
import { decodeStripe } from './decode.js'
import { encodeStripe } from './encode.js'
import { rebuildFragments } from './rebuild.js'
import { isShared, ownsWholeBuffer, transferList, type Owned } from './ownership.js'
import { errorToWire, type WorkerInit, type WorkerReply, type WorkerRequest } from './wire.js'

const port = parentPort
if (port == null) throw new Error('src/chunk/worker.js must run as a worker thread (it is started by createChunkPool)')
const init = workerData as WorkerInit
const codec = reedSolomonCodec(init.engine)
// Fail at start, not on the first stripe, when the wasm module is missing.
if (init.engine === 'wasm') loadReedSolomonWasm()

/** `u8` and its buffer when it spans the whole buffer (this thread owns it), else a copy's; shared memory as it is. */
function transferable (u8: Uint8Array): Owned {
  if (isShared(u8)) return { view: u8 }
  if (ownsWholeBuffer(u8)) return { view: u8, buffer: u8.buffer as ArrayBuffer }
  const copy = new Uint8Array(u8)
  return { view: copy, buffer: copy.buffer }
}

function handle (msg: WorkerRequest): void {
  try {
    if (msg.op === 'encode') {
      const e = encodeStripe(msg.stripe, msg.policy, init.salt, codec, init.formatVersion)
      const fragments = e.fragments.map(f => ({ index: f.index, cid: f.cid.bytes, bytes: f.bytes }))
      const reply: WorkerReply = { type: 'result', id: msg.id, encoded: { length: e.length, k: e.k, n: e.n, codecId: e.codecId, id: e.id, fragments } }
      port?.postMessage(reply, fragments.map(f => f.bytes.buffer as ArrayBuffer))
    } else if (msg.op === 'rebuild') {
      const useCodec = isKnownCodec(msg.expect.codecId ?? codec.id) ? codec : undefined
      const rebuilt = rebuildFragments(msg.fragments, msg.expect, msg.wanted, useCodec, new Set(msg.verified)).map(f => ({ index: f.index, cid: f.cid.bytes, bytes: f.bytes }))
      const reply: WorkerReply = { type: 'result', id: msg.id, rebuilt }
      port?.postMessage(reply, rebuilt.map(f => f.bytes.buffer as ArrayBuffer))
    } else {
      const useCodec = isKnownCodec(msg.expect.codecId ?? codec.id) ? codec : undefined
      const stripe = transferable(decodeStripe(msg.fragments, msg.expect, init.salt, useCodec, new Set(msg.verified), msg.into))
      const reply: WorkerReply = { type: 'result', id: msg.id, stripe: stripe.view }
      port?.postMessage(reply, transferList([stripe]))
    }
  } catch (err) {
    const reply: WorkerReply = { type: 'error', id: msg.id, error: errorToWire(err) }
    port?.postMessage(reply)
  }
}

port.on('message', handle)
port.postMessage({ type: 'ready' } satisfies WorkerReply)
