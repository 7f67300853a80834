/**
 * The pure half of the side-by-side benchmark (`bench -- pool --vs gluster`): reading fio's JSON,
 * percentiles, and shaping four file systems' figures into one object per metric with the two
 * ratios the issue asks for (PALM pool ÷ GlusterFS, one PALM device ÷ bindfs) and a table.
 */

export const SIDES = ['pool', 'gluster', 'single', 'bindfs'] as const
export type Side = typeof SIDES[number]

export interface ComparedMetric {
  key: string
  unit: string
  /** Seconds or milliseconds: the ratios are then other ÷ PALM, so > 1 still means PALM is faster. */
  lowerIsBetter?: boolean
  values: Partial<Record<Side, number>>
}

export interface ShapedMetric {
  unit: string
  lowerIsBetter: boolean
  pool: number | null
  gluster: number | null
  single: number | null
  bindfs: number | null
  /** How many times faster (or more) the pool is than GlusterFS; null when a side has no figure. */
  poolVsGluster: number | null
  /** The same for one PALM device against bindfs. */
  singleVsBindfs: number | null
}

/** IOPS of one fio run from its `--output-format=json` output (text before the JSON, such as warnings, is skipped). */
export function parseFioIops (output: string, direction: 'read' | 'write'): number {
  const start = output.indexOf('{')
  if (start < 0) throw new Error(`fio printed no JSON: ${output.slice(0, 200)}`)
  const parsed = JSON.parse(output.slice(start)) as { jobs?: Array<Record<string, { iops?: number, total_ios?: number } | undefined>> }
  const job = parsed.jobs?.[0]
  const side = job?.[direction]
  if (side == null || typeof side.iops !== 'number') throw new Error(`fio's JSON has no jobs[0].${direction}.iops`)
  if (side.total_ios === 0) throw new Error(`fio did no ${direction} I/O in its run`)
  return side.iops
}

/** The p-th percentile (0 < p ≤ 100) by nearest rank; NaN for no samples. */
export function percentile (xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(p / 100 * sorted.length))) - 1]
}

function ratio (palm: number | undefined, other: number | undefined, lowerIsBetter: boolean): number | null {
  if (palm == null || other == null || !Number.isFinite(palm) || !Number.isFinite(other) || palm <= 0 || other <= 0) return null
  const r = lowerIsBetter ? other / palm : palm / other
  // 3 significant digits from 1 up, 2 below (0.41, 2.08, 0.0043: a collapse stays visible)
  return Number(r.toPrecision(r >= 1 ? 3 : 2))
}

const round = (x: number | undefined): number | null => x == null || !Number.isFinite(x) ? null : x >= 100 ? Math.round(x) : Math.round(x * 100) / 100

/** One object per metric: the four figures (null where a side failed) and the two ratios. */
export function shapeComparison (metrics: ComparedMetric[]): Record<string, ShapedMetric> {
  const out: Record<string, ShapedMetric> = {}
  for (const m of metrics) {
    const low = m.lowerIsBetter === true
    out[m.key] = {
      unit: m.unit,
      lowerIsBetter: low,
      pool: round(m.values.pool),
      gluster: round(m.values.gluster),
      single: round(m.values.single),
      bindfs: round(m.values.bindfs),
      poolVsGluster: ratio(m.values.pool, m.values.gluster, low),
      singleVsBindfs: ratio(m.values.single, m.values.bindfs, low)
    }
  }
  return out
}

/** The printed table: one row per metric, "-" where a figure is missing. */
export function formatComparison (shaped: Record<string, ShapedMetric>): string {
  const cell = (x: number | null, width: number): string => (x == null ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(2)).padStart(width)
  const head = `${'metric'.padEnd(18)} ${'unit'.padEnd(8)} ${SIDES.map(s => s.padStart(9)).join(' ')} ${'pool÷gl'.padStart(8)} ${'single÷bfs'.padStart(10)}`
  const rows = Object.entries(shaped).map(([key, m]) =>
    `${key.padEnd(18)} ${m.unit.padEnd(8)} ${SIDES.map(s => cell(m[s], 9)).join(' ')} ${String(m.poolVsGluster ?? '-').padStart(8)} ${String(m.singleVsBindfs ?? '-').padStart(10)}`)
  return [head, ...rows, 'ratios are speed ratios: > 1 means PALM is faster (for times: the other side\'s time ÷ PALM\'s)'].join('\n')
}
