/**
 * Arithmetic in GF(2^8) with the polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d) and generator 2, and
 * the small matrices of the Reed-Solomon codec (codec id 1). Matrices are row-major Uint8Arrays.
 */

const POLYNOMIAL = 0x11d

/** EXP[i] = 2^i for 0 ≤ i < 510 (doubled so that EXP[log a + log b] needs no modulo). */
const EXP = new Uint8Array(510)
/** LOG[a] = log_2 a for a ≠ 0. */
const LOG = new Uint8Array(256)

{
  let x = 1
  for (let i = 0; i < 255; i++) {
    EXP[i] = x
    LOG[x] = i
    x <<= 1
    if ((x & 0x100) !== 0) x ^= POLYNOMIAL
  }
  for (let i = 255; i < 510; i++) EXP[i] = EXP[i - 255]
}

/** a · b in GF(2^8). */
export function gfMul (a: number, b: number): number {
  if (a === 0 || b === 0) return 0
  return EXP[LOG[a] + LOG[b]]
}

/** 1 / a in GF(2^8); a must not be 0. */
export function gfInv (a: number): number {
  if (a === 0) throw new RangeError('0 has no inverse in GF(2^8)')
  return EXP[255 - LOG[a]]
}

/** a^e in GF(2^8), with 0^0 = 1 (the Vandermonde convention of reed-solomon-erasure). */
export function gfPow (a: number, e: number): number {
  if (e === 0) return 1
  if (a === 0) return 0
  return EXP[(LOG[a] * e) % 255]
}

/** The 256 products c · x for x = 0 … 255. */
export function gfMulRow (c: number): Uint8Array {
  const row = new Uint8Array(256)
  for (let x = 1; x < 256; x++) row[x] = gfMul(c, x)
  return row
}

/** rows×cols product of a (rows×inner) and b (inner×cols). */
export function matMul (a: Uint8Array, b: Uint8Array, rows: number, inner: number, cols: number): Uint8Array {
  const out = new Uint8Array(rows * cols)
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < inner; i++) {
      const x = a[r * inner + i]
      if (x === 0) continue
      for (let c = 0; c < cols; c++) out[r * cols + c] ^= gfMul(x, b[i * cols + c])
    }
  }
  return out
}

/** Inverse of the size×size matrix m (Gauss-Jordan). Throws RangeError when m is singular. */
export function matInvert (m: Uint8Array, size: number): Uint8Array {
  const w = 2 * size
  const a = new Uint8Array(size * w)
  for (let r = 0; r < size; r++) {
    a.set(m.subarray(r * size, (r + 1) * size), r * w)
    a[r * w + size + r] = 1
  }
  for (let col = 0; col < size; col++) {
    let pivot = col
    while (pivot < size && a[pivot * w + col] === 0) pivot++
    if (pivot === size) throw new RangeError('matrix is singular')
    if (pivot !== col) {
      const tmp = a.slice(col * w, (col + 1) * w)
      a.copyWithin(col * w, pivot * w, (pivot + 1) * w)
      a.set(tmp, pivot * w)
    }
    const scale = gfInv(a[col * w + col])
    for (let c = 0; c < w; c++) a[col * w + c] = gfMul(a[col * w + c], scale)
    for (let r = 0; r < size; r++) {
      const f = a[r * w + col]
      if (r === col || f === 0) continue
      for (let c = 0; c < w; c++) a[r * w + c] ^= gfMul(f, a[col * w + c])
    }
  }
  const inv = new Uint8Array(size * size)
  for (let r = 0; r < size; r++) inv.set(a.subarray(r * w + size, (r + 1) * w), r * size)
  return inv
}

/**
 * The n×k systematic encoding matrix `V · inverse(V[0..k))`, V[r][c] = r^c. Its top k rows are the
 * identity; row k + j gives parity shard j. Any k of its rows are independent (MDS).
 */
export function encodingMatrix (k: number, n: number): Uint8Array {
  const v = new Uint8Array(n * k)
  for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) v[r * k + c] = gfPow(r, c)
  return matMul(v, matInvert(v.subarray(0, k * k), k), n, k, k)
}
