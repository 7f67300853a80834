/**
 * The reader of the append-while-read test, run as its own process against a mount: follows FILE
 * as `tail -f` does (read at the current position until end of file, fstat, again) until it has
 * read TOTAL bytes. Every byte read must be the plan's byte at that offset, and the size seen by
 * fstat must never shrink. Now and then it also reads back an earlier range (that must not have
 * changed either). Prints one JSON line: {ok: true, reads, rereads} or {ok: false, error}.
 *   node tail-reader.js FILE SEED TOTAL REREAD_SEED
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readSync } from 'node:fs'
import { prng } from '../../helpers/prng.js'
import { byteAt, firstMismatch } from './append-plan.js'

const [file, seedText, totalText, rereadSeedText] = process.argv.slice(2)
const seed = Number(seedText) >>> 0
const total = Number(totalText)
const rand = prng(Number(rereadSeedText) >>> 0)
const deadline = Date.now() + 5 * 60_000
const buf = new Uint8Array(256 * 1024)

function fail (error: string): never {
  process.stdout.write(JSON.stringify({ ok: false, error }) + '\n')
  process.exit(1)
}

/**
 * Why a read went wrong: whether reading the range again (page cache) and with O_DIRECT (the
 * daemon's answer, past the page cache) give the right bytes now.
 */
function diagnose (at: number, n: number): string {
  const again = new Uint8Array(n)
  const m = readSync(fd, again, 0, n, at)
  const cached = firstMismatch(seed, at, again.subarray(0, m)) < 0 ? 'right' : 'wrong'
  const aligned = Math.floor(at / 4096) * 4096
  const direct = new Uint8Array(Math.ceil((at + n - aligned) / 4096) * 4096 + 4096)
  const dfd = openSync(file, constants.O_RDONLY | constants.O_DIRECT)
  const dn = readSync(dfd, direct, 0, direct.length, aligned)
  closeSync(dfd)
  const daemon = firstMismatch(seed, at, direct.subarray(at - aligned, Math.min(dn, at - aligned + n))) < 0 ? 'right' : 'wrong'
  return `read again: ${cached}; O_DIRECT read: ${daemon}; fstat size now ${fstatSync(fd).size}`
}

function check (at: number, n: number, what: string, size: number): void {
  const bad = firstMismatch(seed, at, buf.subarray(0, n))
  if (bad < 0) return
  const off = at + bad
  let zeros = 0
  while (bad + zeros < n && buf[bad + zeros] === 0) zeros++
  fail(`${what} at ${at} (+${n}) returned ${buf[bad]} at offset ${off}, expected ${byteAt(seed, off)} (${zeros} zero bytes from there; fstat size ${size}); ${diagnose(at, n)}`)
}

const pause = new Int32Array(new SharedArrayBuffer(4))
while (!existsSync(file)) {
  if (Date.now() > deadline) fail(`${file} never appeared`)
  Atomics.wait(pause, 0, 0, 2)
}
const fd = openSync(file, 'r')
let pos = 0
let size = 0
let reads = 0
let rereads = 0
while (pos < total) {
  if (Date.now() > deadline) fail(`only ${pos} of ${total} bytes after 5 minutes (size ${size})`)
  const st = fstatSync(fd)
  if (st.size < size) fail(`fstat size shrank from ${size} to ${st.size}`)
  size = st.size
  if (size > total) fail(`fstat size ${size} is past the ${total} bytes written`)
  // tail -f: read until read(2) says end of file.
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, pos)
    if (n === 0) break
    reads++
    check(pos, n, 'read', size)
    pos += n
  }
  if (pos > 0 && rand() < 0.05) {
    const from = Math.floor(rand() * pos)
    const len = Math.min(pos - from, 1 + Math.floor(rand() * buf.length))
    const n = readSync(fd, buf, 0, len, from)
    if (n !== len) fail(`read back of [${from}, ${from + len}) returned ${n} bytes though ${pos} had been read`)
    rereads++
    check(from, n, 'read back', size)
  }
}
closeSync(fd)
process.stdout.write(JSON.stringify({ ok: true, reads, rereads }) + '\n')
