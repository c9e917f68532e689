import { METRIC_COLUMNS, type ResultRow } from './metrics.ts';

/** The figures `compare` shows unless asked for others: the ones the thread argued about. */
export const DEFAULT_COMPARE_METRICS = [
  'sim_time_ms',
  'latency_p50_us',
  'latency_p99_us',
  'latency_max_us',
  'metadata_written_bytes_per_guest_gib',
  'write_amplification',
  'image_file_size_bytes',
  'host_flushes',
  'snapshot_create_mean_us',
  'fsck_ms',
  'fsck_metadata_read_bytes',
  'fsck_l2_tables_read',
] as const;

/** Mean and relative sample standard deviation of one metric over a configuration's seeds. */
export interface SeedStats {
  mean: number;
  /** stddev / |mean| (0 with one seed or a zero mean). */
  relativeSpread: number;
  seeds: number;
}

export interface ComparisonLine {
  configId: string;
  metric: string;
  a: SeedStats;
  b: SeedStats;
  /** (b − a) / |a|; undefined when a is 0 and b is not. */
  relativeChange: number | undefined;
}

export interface Comparison {
  lines: ComparisonLine[];
  onlyInA: string[];
  onlyInB: string[];
}

export function seedStats(values: readonly number[]): SeedStats {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n < 2 || mean === 0) return { mean, relativeSpread: 0, seeds: n };
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  return { mean, relativeSpread: Math.sqrt(variance) / Math.abs(mean), seeds: n };
}

function groupByConfig(rows: readonly ResultRow[]): Map<string, ResultRow[]> {
  const groups = new Map<string, ResultRow[]>();
  for (const row of rows) {
    if (row.status !== 'ok') continue;
    const id = String(row.config_id);
    const list = groups.get(id);
    if (list) list.push(row);
    else groups.set(id, [row]);
  }
  return groups;
}

/** Pairs configurations by config_id and compares each metric's mean over seeds. */
export function compareRows(
  a: readonly ResultRow[],
  b: readonly ResultRow[],
  metrics: readonly string[] = DEFAULT_COMPARE_METRICS,
): Comparison {
  const ga = groupByConfig(a);
  const gb = groupByConfig(b);
  const lines: ComparisonLine[] = [];
  for (const [configId, rowsA] of ga) {
    const rowsB = gb.get(configId);
    if (!rowsB) continue;
    for (const metric of metrics) {
      const va = numbers(rowsA, metric);
      const vb = numbers(rowsB, metric);
      if (va.length === 0 || vb.length === 0) continue;
      const sa = seedStats(va);
      const sb = seedStats(vb);
      const relativeChange =
        sa.mean === 0 ? (sb.mean === 0 ? 0 : undefined) : (sb.mean - sa.mean) / Math.abs(sa.mean);
      lines.push({ configId, metric, a: sa, b: sb, relativeChange });
    }
  }
  return {
    lines,
    onlyInA: [...ga.keys()].filter((k) => !gb.has(k)),
    onlyInB: [...gb.keys()].filter((k) => !ga.has(k)),
  };
}

function numbers(rows: readonly ResultRow[], metric: string): number[] {
  return rows.map((r) => r[metric]).filter((v): v is number => typeof v === 'number');
}

export function isMetricColumn(name: string): boolean {
  return (METRIC_COLUMNS as readonly string[]).includes(name);
}

/** A value with 4 significant digits, digit-grouped, no exponent below 10^15. */
export function formatNumber(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(4)).toString();
}

function formatStats(s: SeedStats): string {
  // No "± 0%": with simulated time, identical figures across seeds are exact, not noise-free luck.
  const spread =
    s.seeds > 1 && s.relativeSpread > 0
      ? ` ± ${(s.relativeSpread * 100).toFixed(s.relativeSpread < 0.1 ? 1 : 0)}%`
      : '';
  return `${formatNumber(s.mean)}${spread}`;
}

function formatChange(change: number | undefined): string {
  if (change === undefined) return 'new';
  if (change === 0) return '0';
  const pct = change * 100;
  return `${pct > 0 ? '+' : ''}${Math.abs(pct) >= 100 ? pct.toFixed(0) : pct.toFixed(1)}%`;
}

/** simplebench-style fixed-width table: configuration, metric, A, B, relative change. */
export function renderComparison(c: Comparison, nameA: string, nameB: string): string {
  const header = ['configuration', 'metric', nameA, nameB, 'change'];
  const body = c.lines.map((l) => [
    l.configId,
    l.metric,
    formatStats(l.a),
    formatStats(l.b),
    formatChange(l.relativeChange),
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...body.map((r) => (r[i] as string).length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) =>
        i >= 2 ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number),
      )
      .join('  ')
      .trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
  if (c.onlyInA.length > 0) out.push('', `only in ${nameA}: ${c.onlyInA.length} configurations`);
  if (c.onlyInB.length > 0) out.push('', `only in ${nameB}: ${c.onlyInB.length} configurations`);
  return `${out.join('\n')}\n`;
}
