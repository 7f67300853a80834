/**
 * Typed loader for the Reed-Solomon wasm module: wasm-reed-solomon-erasure 0.2.2, the Rust crate
 * reed-solomon-erasure (GF(2^8), systematic Vandermonde matrix) compiled with wasm-bindgen.
 *
 * The package is CommonJS and instantiates its wasm synchronously when first required, so it is
 * loaded lazily here (importing this file does no I/O). Its glue copies every shard into wasm memory
 * and every result shard back out, and it has no error handling: bad input makes the Rust code panic
 * (a wasm `unreachable` trap). Callers validate first; after a trap, `load({ fresh: true })` gives a
 * new instance so that a half-finished call cannot leave the old heap in a bad state.
 */
import { createRequire } from 'node:module'
import { NotSupportedError } from '../../src/errors.js'

/** npm package that holds the wasm module. */
export const RS_WASM_PACKAGE = 'wasm-reed-solomon-erasure'

/** The version whose output the golden vectors pin (fixtures/chunk/vectors.json). */
export const RS_WASM_VERSION = '0.2.2'

/** The two functions the wasm module exports, typed. */
export interface ReedSolomonWasm {
  /**
   * Returns all `dataShards.length + parityCount` shards (data copied back, then parity). Shards must
   * be non-empty and of equal length, parityCount ≥ 1, total ≤ 256; anything else traps.
   */
  encode: (dataShards: Uint8Array[], parityCount: number) => Uint8Array[]
  /**
   * Rebuilds every shard listed in `deadIndexes` (data and parity) from the others and returns all
   * shards. Dead slots must hold an empty array; at least `k` live shards are needed, else it traps.
   */
  reconstruct: (shards: Uint8Array[], parityCount: number, deadIndexes: Uint32Array) => Uint8Array[]
}

export interface LoadOptions {
  /** Drop the cached instance and instantiate the module again (after a trap). Default false. */
  fresh?: boolean
}

const require = createRequire(import.meta.url)
let cached: ReedSolomonWasm | undefined

/**
 * The wasm Reed-Solomon module, instantiated on first use (about 120 KiB of wasm). Throws
 * NotSupportedError naming the package when it is missing or does not instantiate.
 */
export function loadReedSolomonWasm (options: LoadOptions = {}): ReedSolomonWasm {
  if (options.fresh === true && cached != null) {
    delete require.cache[require.resolve(RS_WASM_PACKAGE)]
    cached = undefined
  }
  if (cached != null) return cached
  let mod: Partial<ReedSolomonWasm>
  try {
    mod = require(RS_WASM_PACKAGE) as Partial<ReedSolomonWasm>
  } catch (err) {
    throw new NotSupportedError(`the Reed-Solomon wasm module (${RS_WASM_PACKAGE}) could not be loaded; run \`npm ci\` in the palm directory to install it`, { cause: err, details: { package: RS_WASM_PACKAGE } })
  }
  if (typeof mod.encode !== 'function' || typeof mod.reconstruct !== 'function') {
    throw new NotSupportedError(`${RS_WASM_PACKAGE} does not export encode/reconstruct; install version ${RS_WASM_VERSION} (npm ci)`, { details: { package: RS_WASM_PACKAGE } })
  }
  cached = { encode: mod.encode, reconstruct: mod.reconstruct }
  return cached
}

/** The installed package version, or undefined when it is not installed. */
export function reedSolomonWasmVersion (): string | undefined {
  try {
    return (require(`${RS_WASM_PACKAGE}/package.json`) as { version?: string }).version
  } catch {
    return undefined
  }
}
