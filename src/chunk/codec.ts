/**
 * The codec registry: the codec id stored in every fragment picks the math used to decode it, so a
 * future codec can coexist with old data. Id 1 has two engines with identical output.
 */
import { InvalidArgumentError, NotSupportedError } from '../errors.js'
import { CODEC_RS_GF256, DEFAULT_CODEC_ID } from './constants.js'
import { rsJsCodec } from './codec-js.js'
import { rsWasmCodec } from './codec-wasm.js'
import type { Codec, RsEngine } from './types.js'

/**
 * The engine used when none is named: 'js'. It writes parity straight into the fragment buffers and
 * measured faster than the wasm module here (docs/chunk-format.md, bench/results/chunk.json).
 */
export const DEFAULT_RS_ENGINE: RsEngine = 'js'

/** The Reed-Solomon codec (id 1) on the given engine (default DEFAULT_RS_ENGINE). */
export function reedSolomonCodec (engine: RsEngine = DEFAULT_RS_ENGINE): Codec {
  if (engine === 'js') return rsJsCodec
  if (engine === 'wasm') return rsWasmCodec
  throw new InvalidArgumentError(`unknown Reed-Solomon engine "${String(engine)}"; use "js" or "wasm"`)
}

/** The codec for `id` (default engine). Throws NotSupportedError for an id this palm does not know. */
export function codecById (id: number = DEFAULT_CODEC_ID, engine?: RsEngine): Codec {
  if (id === CODEC_RS_GF256) return reedSolomonCodec(engine)
  throw new NotSupportedError(`erasure codec id ${id} is unknown to this palm (it knows ${CODEC_RS_GF256}); upgrade palm to read these fragments`, { details: { codecId: id } })
}

/** True when this palm can decode fragments with codec `id`. */
export function isKnownCodec (id: number): boolean {
  return id === CODEC_RS_GF256
}
