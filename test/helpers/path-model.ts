/**
 * A model of one device's tree for differential tests: relative path → node, hard links sharing
 * one node object. `renameInModel` is rename(2) on it.
 */

/** rename(2): `dst` (a file, or an empty directory) is replaced; a directory moves with all below it; two names of one file stay as they are. */
export function renameInModel<N extends { type: 'file' | 'dir' }> (model: Map<string, N>, src: string, dst: string): void {
  const node = model.get(src) as N
  if (src === dst || model.get(dst) === node) return
  model.delete(dst)
  model.delete(src)
  model.set(dst, node)
  if (node.type !== 'dir') return
  for (const [p, n] of [...model]) {
    if (p.startsWith(`${src}/`)) {
      model.delete(p)
      model.set(`${dst}/${p.slice(src.length + 1)}`, n)
    }
  }
}
