import type { ResultRow } from '../bench/metrics.ts';
import type { ResultsFile, TimelineColumns } from '../bench/results.ts';
import { IO_KINDS } from '../device/types.ts';
import { formatSize } from '../util/size.ts';
import type { BarSeries, ChartSpec, LineSeries, Point } from './chart-spec.ts';
import { describeDevice, deviceShortName } from './device-text.ts';
import { cdfFromHistogram } from './downsample.ts';
import type { Report, ReportSection } from './report-model.ts';
import {
  distinct,
  type GroupView,
  groupBy,
  measureColumn,
  num,
  ResultView,
  slug,
  text,
  workloadParam,
} from './result-table.ts';
import type { CellPrecision, ComparisonRow, ComparisonTable, Measured } from './text-table.ts';
import { formatDurationNs, formatFraction, type Unit } from './units.ts';

/**
 * Maps a results file to the report: one section per figure definition below, each drawing the
 * suite groups that carry its data. A definition whose data is absent becomes a one-line note
 * instead of an empty chart. Adding a chart is adding one entry to FIGURES (or, for a design
 * variant, to VARIANT_COMPARISONS).
 */

export interface FigureContent {
  charts: ChartSpec[];
  tables: ComparisonTable[];
  notes: string[];
}

export interface FigureDefinition {
  id: string;
  /** The question the section answers. */
  heading: string;
  /** Whether a suite group carries this figure's data. */
  select(group: GroupView, view: ResultView): boolean;
  build(groups: GroupView[], view: ResultView): FigureContent;
  /** Why the section is empty when no group qualifies. */
  missing: string;
}

/** A metric column and how to show it. */
interface Metric {
  column: string;
  /** What it is, for axis and table titles. */
  title: string;
  /** Axis unit; values are multiplied by `toAxis` (ms → ns, µs → ns). */
  unit: Unit;
  toAxis: number;
  /** Table unit text and the factor from the column's value. */
  tableUnit: string;
  toTable: number;
  precision?: CellPrecision;
}

const METRICS = {
  fsck: {
    column: 'fsck_ms',
    title: 'simulated open + check time after a power cut',
    unit: 'ns',
    toAxis: 1e6,
    tableUnit: 'ms',
    toTable: 1,
  },
  fsckTables: {
    column: 'fsck_l2_tables_read',
    title: 'L2 tables read by the check after a power cut',
    unit: 'count',
    toAxis: 1,
    tableUnit: 'tables',
    toTable: 1,
    precision: 'exact',
  },
  fsckPointsMean: {
    column: 'fsck_points_mean_ms',
    title: 'mean open time after power cuts at random points',
    unit: 'ns',
    toAxis: 1e6,
    tableUnit: 'ms',
    toTable: 1,
  },
  fsckPointsNeeded: {
    column: 'fsck_points_needed_check',
    title: 'power cuts (at random points) after which the open had to check',
    unit: 'count',
    toAxis: 1,
    tableUnit: 'count',
    toTable: 1,
    precision: 'exact',
  },
  p50: latencyMetric('latency_p50_us', 'median request latency'),
  p99: latencyMetric('latency_p99_us', 'p99 request latency'),
  p999: latencyMetric('latency_p999_us', 'p99.9 request latency'),
  max: latencyMetric('latency_max_us', 'worst request latency'),
  metadataPerGib: {
    column: 'metadata_written_bytes_per_guest_gib',
    title: 'metadata bytes written per GiB of guest data',
    unit: 'bytes',
    toAxis: 1,
    tableUnit: 'KiB',
    toTable: 1 / 1024,
  },
  writeAmplification: {
    column: 'write_amplification',
    title: 'write amplification (host bytes written / guest bytes written)',
    unit: 'ratio',
    toAxis: 1,
    tableUnit: 'ratio',
    toTable: 1,
    precision: 'g3',
  },
  imageSize: {
    column: 'image_file_size_bytes',
    title: 'image file size',
    unit: 'bytes',
    toAxis: 1,
    tableUnit: 'MiB',
    toTable: 1 / 2 ** 20,
  },
  hostFlushes: {
    column: 'host_flushes',
    title: 'host flushes',
    unit: 'count',
    toAxis: 1,
    tableUnit: 'count',
    toTable: 1,
    precision: 'exact',
  },
  headerWrites: {
    column: 'host_write_ops_header',
    title: 'header writes',
    unit: 'count',
    toAxis: 1,
    tableUnit: 'count',
    toTable: 1,
    precision: 'exact',
  },
  snapshotCreateLast: latencyMetric('snapshot_create_last_us', 'cost of the last snapshot create'),
  snapshotCreateMean: latencyMetric('snapshot_create_mean_us', 'mean snapshot create cost'),
  snapshotDelete: latencyMetric('snapshot_delete_us', 'cost of deleting one snapshot'),
} satisfies Record<string, Metric>;

function latencyMetric(column: string, title: string): Metric {
  return { column, title, unit: 'ns', toAxis: 1e3, tableUnit: 'µs', toTable: 1 };
}

const GIB = 2 ** 30;

/** Bars go on a log axis when the largest is this many times the smallest (else the small vanish). */
const LOG_BARS_ABOVE = 20;

const label = text('label');
const device = text('device');
const workload = text('workload');
const size = (r: ResultRow) => num(r, 'virtual_size_bytes') ?? 0;

function questionText(group: GroupView): string {
  return `${group.name} ${group.question}`;
}

/** "mean of 3 seeds" / "1 seed". */
function seedsText(rows: readonly ResultRow[]): string {
  const n = seedCount(rows);
  return n === 1 ? '1 seed' : `mean of ${n} seeds`;
}

/** The seeds behind a chart, for its footer. */
function seedsOf(rows: readonly ResultRow[]): number[] {
  return distinct(rows, (r) => Number(r.seed)).sort((a, b) => a - b);
}

function seedCount(rows: readonly ResultRow[]): number {
  return distinct(rows, (r) => r.seed).length;
}

function sizeRange(rows: readonly ResultRow[]): string {
  const sizes = distinct(rows, size).sort((a, b) => a - b);
  if (sizes.length === 0) return '';
  const lo = formatSize(sizes[0] as number);
  const hi = formatSize(sizes[sizes.length - 1] as number);
  return lo === hi ? lo : `${lo}–${hi}`;
}

/**
 * The group's part of a chart id: none for the first group a figure draws, so adding a group to
 * a suite does not rename (and break links to) the charts that were there.
 */
function groupTag(groups: readonly GroupView[], group: GroupView): string | undefined {
  return groups[0] === group ? undefined : group.name;
}

/** Subtitle pieces that are the same for every series of a chart. */
function subtitle(...parts: Array<string | undefined>): string {
  return parts.filter((p) => p !== undefined && p !== '').join(' · ');
}

/**
 * A comparison table with one row per `rowKey` value and one column per label (the first label
 * is the baseline), cells averaged over seeds.
 */
function pivotTable(
  rows: readonly ResultRow[],
  metric: Metric,
  rowTitle: string,
  rowKey: (r: ResultRow) => string,
  where: string,
): ComparisonTable | undefined {
  const labels = distinct(rows, label);
  const rowKeys = distinct(rows, rowKey);
  const tableRows: ComparisonRow[] = rowKeys.map((key) => ({
    label: key,
    cells: labels.map((l) =>
      measureColumn(
        rows.filter((r) => rowKey(r) === key && label(r) === l),
        metric.column,
        metric.toTable,
      ),
    ),
  }));
  if (tableRows.every((r) => r.cells.every((c) => c === undefined))) return undefined;
  // Times that are zero everywhere come from a device model that charges nothing: no table.
  if (
    metric.unit === 'ns' &&
    tableRows.every((r) => r.cells.every((c) => c === undefined || c.mean === 0))
  )
    return undefined;
  return {
    title: `${capitalise(metric.title)}, ${metric.tableUnit}${where === '' ? '' : ` (${where})`}`,
    rowTitle,
    columns: labels,
    rows: tableRows,
    ...(metric.precision === undefined ? {} : { precision: metric.precision }),
  };
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Mean of a metric per x value, one series per label (plus workload when several). */
function sweepSeries(
  rows: readonly ResultRow[],
  metric: Metric,
  x: (r: ResultRow) => number | undefined,
): LineSeries[] {
  const workloads = distinct(rows, workload);
  const series: LineSeries[] = [];
  for (const [key, seriesRows] of groupBy(rows, (r) =>
    workloads.length > 1 ? `${label(r)} · ${workload(r)}` : label(r),
  )) {
    const points: Point[] = [];
    for (const [xValue, pointRows] of groupBy(seriesRows, x)) {
      if (xValue === undefined) continue;
      const m = measureColumn(pointRows, metric.column, metric.toAxis);
      if (m !== undefined) points.push({ x: xValue, y: m.mean });
    }
    points.sort((a, b) => a.x - b.x);
    series.push({
      label: key,
      points,
      styleKey: workloads.length > 1 ? key : label(seriesRows[0] as ResultRow),
    });
  }
  return series;
}

/**
 * Series a log axis cannot draw (all values zero: raw needs no check) keep their legend entry,
 * marked, and get a note, so a reader does not look for a missing line.
 */
function markZeroSeries(series: LineSeries[], what: string): string[] {
  const notes: string[] = [];
  for (const s of series) {
    if (s.points.length === 0 || s.points.some((p) => p.y > 0)) continue;
    notes.push(`${s.label}: ${what} is 0 throughout, which a log axis cannot show.`);
    s.styleKey = s.styleKey ?? s.label;
    s.label = `${s.label} (0, not drawn)`;
  }
  return notes;
}

function neededCheckNote(rows: readonly ResultRow[]): string[] {
  const notes: string[] = [];
  for (const [l, labelRows] of groupBy(rows, label)) {
    const needed = labelRows.map((r) => num(r, 'fsck_needed_check')).filter((v) => v !== undefined);
    if (needed.length === 0) continue;
    const count = needed.filter((v) => v === 1).length;
    if (count < needed.length && count > 0)
      notes.push(
        `${l}: the open after the power cut had to check in ${count} of ${needed.length} runs.`,
      );
    if (count === 0 && (num(labelRows[0] as ResultRow, 'fsck_ms') ?? 0) > 0)
      notes.push(`${l}: the image was marked clean at the power cut, so its open ran no check.`);
  }
  return notes;
}

// ---------------------------------------------------------------------------------------------
// 1. fsck time vs virtual size

const fsckVsSize: FigureDefinition = {
  id: 'fsck-vs-size',
  heading: 'How long does the open after a power cut take as the image grows?',
  missing: 'the results hold no fsck measurements at three or more virtual sizes.',
  select: (g) =>
    distinct(
      g.rows.filter((r) => num(r, 'fsck_ms') !== undefined),
      size,
    ).length >= 3,
  build(groups) {
    const content: FigureContent = { charts: [], tables: [], notes: [] };
    for (const group of groups) {
      const rows = group.rows.filter((r) => num(r, 'fsck_ms') !== undefined);
      for (const [dev, devRows] of groupBy(rows, device)) {
        const series = sweepSeries(devRows, METRICS.fsck, size);
        content.notes.push(...markZeroSeries(series, 'the check time'));
        const workloads = distinct(devRows, workload);
        content.charts.push({
          id: slug('fsck-vs-size', groupTag(groups, group), dev),
          seeds: seedsOf(devRows),
          title: `How long does the open after a power cut take as the image grows? (${deviceShortName(dev)})`,
          subtitle: subtitle(
            `${deviceShortName(dev)} model`,
            workloads.length === 1 ? `workload ${workloads[0]}` : undefined,
            seedsText(devRows),
          ),
          body: {
            kind: 'line',
            x: { title: 'virtual size', unit: 'bytes', log: true },
            y: { title: 'simulated open + check time', unit: 'ns', log: true },
            series,
          },
          caption:
            'Time to reopen the image after a power cut at the end of the run, including any ' +
            'check or repair the open needs, charged by the device model.',
        });
        const where = `${deviceShortName(dev)}, ${seedsText(devRows)}`;
        const bySize = (r: ResultRow) => formatSize(size(r));
        for (const metric of [METRICS.fsck, METRICS.fsckTables]) {
          const table = pivotTable(devRows, metric, 'virtual size', bySize, where);
          if (table !== undefined && !(metric === METRICS.fsckTables && allZero(table)))
            content.tables.push(table);
        }
      }
      content.notes.push(...neededCheckNote(rows));
    }
    content.notes = [...new Set(content.notes)];
    return content;
  },
};

function allZero(table: ComparisonTable): boolean {
  return table.rows.every((r) => r.cells.every((c) => c === undefined || c.mean === 0));
}

// ---------------------------------------------------------------------------------------------
// 2. fsck time vs allocation density

const density = (r: ResultRow) => workloadParam(r, 'density');

const fsckVsDensity: FigureDefinition = {
  id: 'fsck-vs-density',
  heading: 'How does the check after a power cut depend on how much of the image is allocated?',
  missing: 'the results hold no fsck measurements at three or more allocation densities.',
  select: (g) =>
    distinct(
      g.rows.filter((r) => num(r, 'fsck_ms') !== undefined && density(r) !== undefined),
      density,
    ).length >= 3,
  build(groups) {
    const content: FigureContent = { charts: [], tables: [], notes: [] };
    for (const group of groups) {
      const rows = group.rows.filter(
        (r) => num(r, 'fsck_ms') !== undefined && density(r) !== undefined,
      );
      for (const [key, chartRows] of groupBy(rows, (r) => `${device(r)}|${size(r)}`)) {
        const [dev = '', sizeText = '0'] = key.split('|');
        const series = sweepSeries(
          chartRows.map((r) => ({ ...r, workload: String(r.workload_type) })),
          METRICS.fsck,
          density,
        );
        const sizeLabel = formatSize(Number(sizeText));
        content.notes.push(...markZeroSeries(series, 'the check time'));
        content.charts.push({
          id: slug('fsck-vs-density', groupTag(groups, group), dev, sizeLabel),
          seeds: seedsOf(chartRows),
          title: `How does the check time depend on the allocated fraction? (${deviceShortName(dev)}, ${sizeLabel})`,
          subtitle: subtitle(
            `${deviceShortName(dev)} model`,
            `${sizeLabel} virtual size`,
            `sparse writes`,
            seedsText(chartRows),
          ),
          body: {
            kind: 'line',
            x: { title: 'allocated fraction of the virtual size', unit: 'fraction', log: true },
            y: { title: 'simulated open + check time', unit: 'ns', log: true },
            series,
          },
          caption:
            'Sparse writes spread over the whole image: at low density every write still ' +
            'touches its own L2 table, so the scan costs what the table count costs.',
        });
        const where = `${deviceShortName(dev)}, ${sizeLabel}, ${seedsText(chartRows)}`;
        const byDensity = (r: ResultRow) => formatFraction(density(r) ?? 0);
        for (const metric of [METRICS.fsck, METRICS.fsckTables]) {
          const table = pivotTable(chartRows, metric, 'allocated', byDensity, where);
          if (table !== undefined && !(metric === METRICS.fsckTables && allZero(table)))
            content.tables.push(table);
        }
      }
    }
    content.notes = [...new Set(content.notes)];
    return content;
  },
};

// ---------------------------------------------------------------------------------------------
// 2b. power cuts in the middle of a run

const fsckMidRun: FigureDefinition = {
  id: 'fsck-mid-run',
  heading:
    'What does the open cost after a power cut in the middle of a run, and how often must it check?',
  missing: 'no case cut the power at random points during its run.',
  // Variant groups get their own comparison, which carries these figures too.
  select: (g) => !hasVariants(g) && g.rows.some((r) => (num(r, 'fsck_points') ?? 0) > 0),
  build(groups) {
    const content: FigureContent = { charts: [], tables: [], notes: [] };
    for (const group of groups) {
      const rows = group.rows.filter((r) => (num(r, 'fsck_points') ?? 0) > 0);
      const multiDevice = distinct(rows, device).length > 1;
      const configKey = (r: ResultRow) =>
        multiDevice ? `${workload(r)}, ${deviceShortName(device(r))}` : workload(r);
      const categories = distinct(rows, configKey);
      const labels = distinct(rows, label);
      const series: BarSeries[] = labels.map((l) => ({
        label: l,
        values: categories.map(
          (c) =>
            measureColumn(
              rows.filter((r) => configKey(r) === c && label(r) === l),
              METRICS.fsckPointsMean.column,
              METRICS.fsckPointsMean.toAxis,
            )?.mean ?? Number.NaN,
        ),
      }));
      const positive = series.flatMap((s) => s.values).filter((v) => v > 0);
      if (positive.length > 0) {
        content.charts.push({
          id: slug('fsck-mid-run', groupTag(groups, group)),
          seeds: seedsOf(rows),
          title: 'What does the open cost after a power cut in the middle of a run?',
          subtitle: subtitle(
            multiDevice ? undefined : `${deviceShortName(device(rows[0] as ResultRow))} model`,
            `${sizeRange(rows)} image`,
            `${num(rows[0] as ResultRow, 'fsck_points')} power cuts per run at seeded random requests`,
            seedsText(rows),
          ),
          body: {
            kind: 'bar',
            stacked: false,
            categories: groupedCategoryLabels(categories.map((c) => c.split(', '))),
            categoryTitle: multiDevice ? 'workload / device' : 'workload',
            y: {
              title: 'mean simulated open + check time',
              unit: 'ns',
              log: Math.max(...positive) / Math.min(...positive) > LOG_BARS_ABOVE,
            },
            series,
          },
          caption:
            'The power is cut after a seeded random request (unflushed writes lost), and the ' +
            'image reopened: the cost of that open, averaged over the cut points.',
        });
      }
      for (const metric of [METRICS.fsckPointsMean, METRICS.fsckPointsNeeded]) {
        const table = pivotTable(rows, metric, 'workload', configKey, seedsText(rows));
        if (table !== undefined) content.tables.push(table);
      }
    }
    return content;
  },
};

// ---------------------------------------------------------------------------------------------
// 3. request latency: CDF per format/variant, and the timeline across a refcount-table growth

const isStallGroup = (g: GroupView) => /stall|latenc/i.test(questionText(g));
const isGrowthGroup = (g: GroupView) => /refcount.table|reftable|growth/i.test(questionText(g));

/** Histogram of all seeds of some rows, merged bucket by bucket. */
function mergedHistogram(view: ResultView, rows: readonly ResultRow[]) {
  const buckets = new Map<number, { upperBound: number; count: number }>();
  for (const row of rows) {
    for (const [, highNs, count] of view.detail(row)?.histogram ?? []) {
      const bucket = buckets.get(highNs);
      if (bucket === undefined) buckets.set(highNs, { upperBound: highNs, count });
      else bucket.count += count;
    }
  }
  return [...buckets.values()];
}

const latencyCdf: FigureDefinition = {
  id: 'latency-cdf',
  heading: 'How are guest request latencies distributed, and how long is the tail?',
  missing: 'no suite group about allocation stalls or latency has latency histograms.',
  select: (g, view) =>
    isStallGroup(g) && g.rows.some((r) => (view.detail(r)?.histogram.length ?? 0) > 0),
  build(groups, view) {
    const content: FigureContent = { charts: [], tables: [], notes: [] };
    for (const group of groups) {
      const configs = groupBy(group.rows, (r) => `${workload(r)}|${device(r)}|${size(r)}`);
      const multiSize = distinct(group.rows, size).length > 1;
      for (const [key, rows] of configs) {
        const [wl = '', dev = ''] = key.split('|');
        const sizeLabel = formatSize(size(rows[0] as ResultRow));
        const series: LineSeries[] = [];
        for (const [l, labelRows] of groupBy(rows, label)) {
          const histogram = mergedHistogram(view, labelRows);
          let points = cdfFromHistogram(histogram);
          const samples = histogram.reduce((sum, b) => sum + b.count, 0);
          // Requests that cost no simulated time (a discard of nothing) have no place on a log
          // axis: the curve starts at their fraction instead, and a note says how many.
          const instant = histogram
            .filter((b) => b.upperBound <= 1)
            .reduce((n, b) => n + b.count, 0);
          if (instant > 0) {
            points = points.filter((p) => p.x > 1);
            const first = points[0];
            if (first !== undefined) points.unshift({ x: first.x, y: instant / samples });
            content.notes.push(
              `${l} (${wl}, ${deviceShortName(dev)}): ${instant.toLocaleString('en-US')} of ` +
                `${samples.toLocaleString('en-US')} requests took no simulated time; the curve starts at their share.`,
            );
          }
          if (points.length > 0) series.push({ label: l, points, samples });
        }
        if (series.length === 0) continue;
        content.charts.push({
          seeds: seedsOf(rows),
          id: slug(
            'latency-cdf',
            groupTag(groups, group),
            wl,
            dev,
            multiSize ? sizeLabel : undefined,
          ),
          title: `How are request latencies distributed? (${wl}, ${deviceShortName(dev)})`,
          subtitle: subtitle(
            groups.length > 1 ? `group ${group.name}` : undefined,
            `${deviceShortName(dev)} model`,
            `${sizeLabel} image`,
            `workload ${wl}`,
            seedCount(rows) === 1
              ? 'all requests of 1 seed'
              : `all requests of ${seedCount(rows)} seeds`,
          ),
          body: {
            kind: 'cdf',
            x: { title: 'simulated request latency', unit: 'ns', log: true },
            series,
          },
          caption:
            'Each step is a latency histogram bucket (≤ 6.25 % wide). The y axis is in nines ' +
            '(90 %, 99 %, 99.9 % evenly spaced), so the tail, requests that waited for metadata ' +
            'I/O (allocation, table growth, flush), is as visible as the median.',
        });
      }
      const byConfig = (r: ResultRow) =>
        `${workload(r)}, ${deviceShortName(device(r))}${distinct(group.rows, size).length > 1 ? `, ${formatSize(size(r))}` : ''}`;
      for (const metric of [METRICS.p50, METRICS.p99, METRICS.max]) {
        const table = pivotTable(
          group.rows,
          metric,
          'workload, device',
          byConfig,
          seedsText(group.rows),
        );
        if (table !== undefined) content.tables.push(table);
      }
    }
    return content;
  },
};

/** Timeline points (x = request number of the bucket's worst request, y = its latency). */
function timelinePoints(timeline: TimelineColumns | undefined, field: 'max' | 'mean'): Point[] {
  if (timeline === undefined) return [];
  const points: Point[] = [];
  for (let i = 0; i < timeline.requests.length; i++) {
    const x =
      field === 'max'
        ? (timeline.max_request[i] ?? 0) + 1
        : (timeline.first_request[i] ?? 0) + (timeline.requests[i] ?? 0) / 2;
    const y = field === 'max' ? timeline.max_ns[i] : timeline.mean_ns[i];
    if (y !== undefined) points.push({ x, y });
  }
  return points;
}

const stallTimeline: FigureDefinition = {
  id: 'stall-timeline',
  heading: 'Does a qcow2 refcount-table growth stall the guest request that triggers it?',
  missing:
    'no suite group runs across a refcount-table growth (a group whose name or question mentions a refcount table, reftable or growth).',
  select: (g, view) =>
    isGrowthGroup(g) && g.rows.some((r) => (view.detail(r)?.timeline.requests.length ?? 0) > 0),
  build(groups, view) {
    const content: FigureContent = { charts: [], tables: [], notes: [] };
    for (const group of groups) {
      const firstSeed = distinct(group.rows, (r) => Number(r.seed))[0];
      const rows = group.rows.filter((r) => Number(r.seed) === firstSeed);
      for (const [key, chartRows] of groupBy(
        rows,
        (r) => `${workload(r)}|${device(r)}|${size(r)}`,
      )) {
        const [wl = '', dev = ''] = key.split('|');
        const series: LineSeries[] = [];
        for (const row of chartRows) {
          const timeline = view.detail(row)?.timeline;
          const points = timelinePoints(timeline, 'max');
          if (points.length === 0) continue;
          series.push({ label: label(row), points });
          const worst = points.reduce((a, b) => (b.y > a.y ? b : a));
          const p50 = num(row, 'latency_p50_us');
          if (worst.y > 0)
            content.notes.push(
              `${label(row)} (${wl}, ${deviceShortName(dev)}): the worst request, #${worst.x.toLocaleString('en-US')}, ` +
                `took ${formatDurationNs(worst.y)}` +
                (p50 === undefined ? '.' : `, against a median of ${formatDurationNs(p50 * 1e3)}.`),
            );
        }
        if (series.length === 0) continue;
        const width = view.detail(chartRows[0] as ResultRow)?.timeline.bucket_requests ?? 1;
        const requestCount = Math.max(
          ...chartRows.map((r) => {
            const t = view.detail(r)?.timeline;
            const last = (t?.requests.length ?? 0) - 1;
            return last < 0 ? 1 : (t?.first_request[last] ?? 0) + (t?.requests[last] ?? 0);
          }),
        );
        content.charts.push({
          id: slug('stall-timeline', groupTag(groups, group), wl, dev),
          seeds: seedsOf(chartRows.filter((r) => Number(r.seed) === firstSeed)),
          title: `Does a refcount-table growth stall a guest request? (${wl}, ${deviceShortName(dev)})`,
          subtitle: subtitle(
            groups.length > 1 ? `group ${group.name}` : undefined,
            `${deviceShortName(dev)} model`,
            `${formatSize(size(chartRows[0] as ResultRow))} image`,
            `workload ${wl}`,
            width > 1 ? `worst request of every ${width} shown` : 'every request shown',
            `seed ${firstSeed}`,
          ),
          body: {
            kind: 'timeline',
            x: { title: 'guest request number', unit: 'count', log: false, max: requestCount },
            y: { title: 'simulated request latency', unit: 'ns', log: true },
            series,
          },
          caption:
            'Per-request latency in request order. The request that makes the refcount table grow ' +
            'waits for the new table to be written and the header updated: it shows as a spike.',
        });
      }
      const byConfig = (r: ResultRow) => `${workload(r)}, ${deviceShortName(device(r))}`;
      for (const metric of [METRICS.p50, METRICS.max]) {
        const table = pivotTable(
          group.rows,
          metric,
          'workload, device',
          byConfig,
          seedsText(group.rows),
        );
        if (table !== undefined) content.tables.push(table);
      }
    }
    return content;
  },
};

// ---------------------------------------------------------------------------------------------
// 4. metadata bytes written per GiB of guest data, by kind

/** Everything the engines write besides guest data, in stacking order. */
const METADATA_KINDS = IO_KINDS.filter((k) => k !== 'data');

const metadataPerGib: FigureDefinition = {
  id: 'metadata-per-gib',
  heading: 'How many metadata bytes does each GiB of guest data cost, and of which kind?',
  missing: 'no suite group about metadata I/O wrote guest data.',
  select: (g) =>
    /metadata/i.test(questionText(g)) &&
    g.rows.some((r) => (num(r, 'guest_written_bytes') ?? 0) > 0),
  build(groups) {
    const content: FigureContent = { charts: [], tables: [], notes: [] };
    for (const group of groups) {
      const rows = group.rows.filter((r) => (num(r, 'guest_written_bytes') ?? 0) > 0);
      // Metadata bytes do not depend on the device model: draw the first one.
      const dev = distinct(rows, device)[0] ?? '';
      const devRows = rows.filter((r) => device(r) === dev);
      const sizes = distinct(devRows, size);
      const categoryKey = (r: ResultRow) =>
        sizes.length > 1
          ? `${workload(r)}|${formatSize(size(r))}|${label(r)}`
          : `${workload(r)}|${label(r)}`;
      // Bars of one workload side by side (rows come format by format).
      const order = (values: string[]) => (v: string) => values.indexOf(v);
      const workloadAt = order(distinct(devRows, workload));
      const labelAt = order(distinct(devRows, label));
      const rank = (key: string) => {
        const r = devRows.find((row) => categoryKey(row) === key) as ResultRow;
        return [workloadAt(workload(r)), size(r), labelAt(label(r))];
      };
      const categories = distinct(devRows, categoryKey).sort((a, b) => {
        const [ra, rb] = [rank(a), rank(b)];
        return (
          (ra[0] ?? 0) - (rb[0] ?? 0) || (ra[1] ?? 0) - (rb[1] ?? 0) || (ra[2] ?? 0) - (rb[2] ?? 0)
        );
      });
      const perGib = (r: ResultRow, kind: string) =>
        (num(r, `host_written_bytes_${kind.replace('-', '_')}`) ?? 0) /
        ((num(r, 'guest_written_bytes') ?? 1) / GIB);
      const series: BarSeries[] = METADATA_KINDS.map((kind) => ({
        label: kind,
        values: categories.map((c) => {
          const values = devRows.filter((r) => categoryKey(r) === c).map((r) => perGib(r, kind));
          return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
        }),
      })).filter((s) => s.values.some((v) => v > 0));
      if (series.length === 0) continue;
      const chart = (id: string, title: string, what: string, kinds: BarSeries[]): ChartSpec => ({
        id: slug(id, groupTag(groups, group)),
        seeds: seedsOf(devRows),
        title,
        subtitle: subtitle(
          sizes.length === 1 ? `${formatSize(sizes[0] as number)} image` : undefined,
          what,
          seedsText(devRows),
        ),
        body: {
          kind: 'bar',
          stacked: true,
          categories: groupedCategoryLabels(categories.map((c) => c.split('|'))),
          categoryTitle: sizes.length > 1 ? 'workload / size / format' : 'workload / format',
          y: { title: 'bytes written per GiB of guest data', unit: 'bytes', log: false },
          series: kinds,
        },
      });
      content.charts.push({
        ...chart(
          'metadata-per-gib',
          'How many metadata bytes does each GiB of guest data cost?',
          'bytes written per kind, including zero-fill around partial cluster writes',
          series,
        ),
        caption:
          'Host bytes written for each GiB the guest wrote, by what they were: header, tables, ' +
          'refcounts, snapshots, freelist, and the zero-fill a format writes around a partial cluster.',
      });
      // Zero-fill (a 64 KiB cluster filled around a 4 KiB write) can dwarf the tables: then a
      // second chart without it keeps the metadata itself readable.
      const tallest = (kinds: BarSeries[]) =>
        Math.max(
          ...categories.map((_, c) => kinds.reduce((sum, k) => sum + (k.values[c] ?? 0), 0)),
        );
      const metadataOnly = series.filter((k) => k.label !== 'zero-fill');
      if (metadataOnly.length > 0 && tallest(metadataOnly) < tallest(series) / 2) {
        content.charts.push({
          ...chart(
            'metadata-only-per-gib',
            'How many table and header bytes does each GiB of guest data cost?',
            'metadata kinds only (zero-fill left out)',
            metadataOnly,
          ),
          caption: 'The chart above without zero-fill, which would otherwise hide the metadata.',
        });
      }
      const where = seedsText(devRows);
      for (const metric of [METRICS.metadataPerGib, METRICS.writeAmplification]) {
        const table = pivotTable(devRows, metric, 'workload', workload, where);
        if (table !== undefined) content.tables.push(table);
      }
    }
    return content;
  },
};

/**
 * Multi-line category labels where every line but the last names a group of neighbouring bars:
 * the group name is printed once, under the middle bar of its run, so fifteen bars of five
 * workloads do not print "discard-churn" fifteen times on top of each other.
 */
export function groupedCategoryLabels(labels: readonly string[][]): string[][] {
  const out = labels.map((l) => [...l]);
  const depth = Math.max(0, ...labels.map((l) => l.length - 1));
  for (let line = 0; line < depth; line++) {
    let start = 0;
    while (start < labels.length) {
      const prefix = (i: number) => (labels[i] ?? []).slice(0, line + 1).join('|');
      let end = start + 1;
      while (end < labels.length && prefix(end) === prefix(start)) end++;
      const middle = start + Math.floor((end - start - 1) / 2);
      for (let i = start; i < end; i++) {
        const row = out[i];
        if (row !== undefined && i !== middle) row[line] = '';
      }
      start = end;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// 5. internal snapshots

const snapshots: FigureDefinition = {
  id: 'snapshots',
  heading: 'What do internal snapshots cost as their number grows (qcow2)?',
  missing: 'no case took internal snapshots.',
  select: (g) => g.rows.some((r) => (num(r, 'guest_snapshots') ?? 0) > 0),
  build(groups, view) {
    const content: FigureContent = { charts: [], tables: [], notes: [] };
    for (const group of groups) {
      const rows = group.rows.filter((r) => (num(r, 'guest_snapshots') ?? 0) > 0);
      const count = (r: ResultRow) => num(r, 'guest_snapshots');
      const counts = distinct(rows, count);
      for (const [dev, devRows] of groupBy(rows, device)) {
        const series: LineSeries[] = [];
        let snapshotBucket = 1;
        if (counts.length >= 3) {
          const parts: Array<[Metric, string]> = [
            [METRICS.snapshotCreateLast, 'create the n-th'],
            [METRICS.snapshotDelete, 'delete one'],
            [METRICS.fsck, 'open after power cut'],
          ];
          for (const [metric, what] of parts) {
            // One line per format: the sweep's workload labels (snapshots=N) are the x values.
            const byType = devRows.map((r) => ({ ...r, workload: String(r.workload_type) }));
            for (const s of sweepSeries(byType, metric, count)) {
              if (s.points.some((p) => p.y > 0))
                series.push({
                  ...s,
                  label: `${s.label}: ${what}`,
                  styleKey: `${s.label}: ${what}`,
                });
            }
          }
        } else {
          const firstSeed = distinct(devRows, (r) => Number(r.seed))[0];
          for (const row of devRows.filter((r) => Number(r.seed) === firstSeed)) {
            const timeline = view.detail(row)?.snapshot_timeline;
            if (timeline === undefined) continue;
            snapshotBucket = Math.max(snapshotBucket, ...timeline.requests);
            const points: Point[] = [];
            for (let i = 0; i < timeline.requests.length; i++) {
              // A bucket's mean sits at its middle snapshot (the n-th itself when unbucketed).
              const n = (timeline.first_request[i] ?? 0) + ((timeline.requests[i] ?? 1) + 1) / 2;
              const y = timeline.mean_ns[i];
              if (y !== undefined) points.push({ x: n, y });
            }
            if (points.length > 0)
              series.push({
                label: `${label(row)}: create the n-th`,
                points,
                styleKey: label(row),
              });
          }
        }
        if (series.length === 0) continue;
        content.charts.push({
          id: slug('snapshots', groupTag(groups, group), dev),
          seeds: seedsOf(
            counts.length >= 3
              ? devRows
              : devRows.filter(
                  (r) => Number(r.seed) === distinct(devRows, (x) => Number(x.seed))[0],
                ),
          ),
          title: `What does a snapshot cost as their number grows? (${deviceShortName(dev)})`,
          subtitle: subtitle(
            `${deviceShortName(dev)} model`,
            `${sizeRange(devRows)} image`,
            counts.length >= 3
              ? seedsText(devRows)
              : snapshotBucket > 1
                ? `one run, mean cost of every ${snapshotBucket} creates`
                : 'one run, cost of each create',
          ),
          body: {
            kind: 'line',
            x: { title: 'internal snapshots in the image', unit: 'count', log: true },
            y: { title: 'simulated time', unit: 'ns', log: true },
            series,
          },
          caption:
            'Creating a snapshot copies the L1 table, raises refcounts and rewrites the snapshot ' +
            'table; the open after a power cut checks refcounts that every snapshot adds to.',
        });
        const where = `${deviceShortName(dev)}, ${seedsText(devRows)}`;
        const byCount = (r: ResultRow) => String(count(r) ?? '');
        for (const metric of [METRICS.snapshotCreateLast, METRICS.snapshotDelete, METRICS.fsck]) {
          const table = pivotTable(devRows, metric, 'snapshots', byCount, where);
          if (table !== undefined) content.tables.push(table);
        }
      }
    }
    return content;
  },
};

// ---------------------------------------------------------------------------------------------
// 6. design-variant comparisons

/**
 * One entry per comparison of the design-variant issue: which suite groups it draws (by name or
 * question) and the metrics it compares, the first charted as grouped bars per workload.
 */
export interface VariantComparison {
  id: string;
  heading: string;
  match: RegExp;
  metrics: Metric[];
}

export const VARIANT_COMPARISONS: VariantComparison[] = [
  {
    id: 'variant-clean-timer',
    heading:
      'QED clean timer: how often is the header written, and how often does a crash force a scan?',
    match: /clean.?timer/i,
    metrics: [
      METRICS.fsckPointsNeeded,
      METRICS.headerWrites,
      METRICS.fsckPointsMean,
      METRICS.hostFlushes,
    ],
  },
  {
    id: 'variant-fsck',
    heading: 'Which design makes the open after a power cut cheaper?',
    match: /fsck|check|scan|always.?scan|parallel/i,
    metrics: [METRICS.fsck, METRICS.fsckPointsMean, METRICS.fsckTables],
  },
  {
    id: 'variant-stalls',
    heading: 'Which design shortens allocation stalls?',
    match: /stall|latenc|growth|prealloc/i,
    metrics: [METRICS.max, METRICS.p999, METRICS.p99],
  },
  {
    id: 'variant-metadata',
    heading: 'Which design writes fewer metadata bytes?',
    match: /metadata|refcount.?bits|lazy/i,
    metrics: [METRICS.metadataPerGib, METRICS.writeAmplification, METRICS.hostFlushes],
  },
  {
    id: 'variant-space',
    heading: 'Which design reuses space (image file size after the run)?',
    match: /space|discard|freelist|bitmap|size/i,
    metrics: [METRICS.imageSize, METRICS.metadataPerGib],
  },
  {
    id: 'variant-other',
    heading: 'Other design-variant comparisons',
    match: /./,
    metrics: [METRICS.fsck, METRICS.p99, METRICS.metadataPerGib, METRICS.imageSize],
  },
];

/** A group compares design variants when one of its lines is not QEMU's own behaviour. */
function hasVariants(g: GroupView): boolean {
  return g.rows.some((r) => r.variant !== 'qemu' && r.variant !== '' && r.variant !== undefined);
}

function variantFigure(comparison: VariantComparison, claimed: Set<string>): FigureDefinition {
  return {
    id: comparison.id,
    heading: comparison.heading,
    missing: 'no suite group compares design variants on this question.',
    select: (g) => hasVariants(g) && !claimed.has(g.name) && comparison.match.test(questionText(g)),
    build(groups) {
      const content: FigureContent = { charts: [], tables: [], notes: [] };
      for (const group of groups) {
        if (group.question !== '') content.notes.push(`${group.name}: ${group.question}`);
        const metrics = comparison.metrics.filter((m) =>
          group.rows.some((r) => num(r, m.column) !== undefined),
        );
        const chartMetric = metrics.find((m) =>
          group.rows.some((r) => (num(r, m.column) ?? 0) > 0),
        );
        const multiSize = distinct(group.rows, size).length > 1;
        const multiDevice = distinct(group.rows, device).length > 1;
        const configKey = (r: ResultRow) =>
          [
            workload(r),
            multiSize ? formatSize(size(r)) : undefined,
            multiDevice ? deviceShortName(device(r)) : undefined,
          ]
            .filter((p) => p !== undefined)
            .join(', ');
        if (chartMetric !== undefined) {
          const categories = distinct(group.rows, configKey);
          const labels = distinct(group.rows, label);
          const series: BarSeries[] = labels.map((l) => ({
            label: l,
            values: categories.map(
              (c) =>
                measureColumn(
                  group.rows.filter((r) => configKey(r) === c && label(r) === l),
                  chartMetric.column,
                  chartMetric.toAxis,
                )?.mean ?? Number.NaN,
            ),
          }));
          const values = series.flatMap((s) => s.values).filter((v) => v > 0);
          const log =
            values.length > 0 && Math.max(...values) / Math.min(...values) > LOG_BARS_ABOVE;
          content.charts.push({
            id: slug(comparison.id, group.name),
            seeds: seedsOf(group.rows),
            title: comparison.heading,
            subtitle: subtitle(
              `group ${group.name}`,
              multiSize ? undefined : `${sizeRange(group.rows)} image`,
              multiDevice
                ? undefined
                : `${deviceShortName(device(group.rows[0] as ResultRow))} model`,
              seedsText(group.rows),
            ),
            body: {
              kind: 'bar',
              stacked: false,
              categories: groupedCategoryLabels(categories.map((c) => c.split(', '))),
              categoryTitle: [
                'workload',
                multiSize ? 'size' : undefined,
                multiDevice ? 'device' : undefined,
              ]
                .filter((p) => p !== undefined)
                .join(' / '),
              y: { title: chartMetric.title, unit: chartMetric.unit, log },
              series,
            },
          });
        }
        for (const metric of metrics) {
          const table = pivotTable(group.rows, metric, 'case', configKey, seedsText(group.rows));
          if (table !== undefined) content.tables.push(table);
        }
      }
      return content;
    },
  };
}

// ---------------------------------------------------------------------------------------------

/**
 * The report's figures, in report order. `claimed` collects the groups earlier figures drew, so
 * a variant comparison does not repeat a group a main figure already shows.
 */
export function figureDefinitions(claimed: Set<string>): FigureDefinition[] {
  return [
    fsckVsSize,
    fsckVsDensity,
    fsckMidRun,
    latencyCdf,
    stallTimeline,
    metadataPerGib,
    snapshots,
    ...VARIANT_COMPARISONS.map((c) => variantFigure(c, claimed)),
  ];
}

/** A line's name with the create options that set it apart: "qcow2-512 (cluster_size=512)". */
function describeLabel(rows: readonly ResultRow[], l: string): string {
  const own = rows.filter((r) => label(r) === l);
  const variant = String(own[0]?.variant ?? 'qemu');
  const options = distinct(own, text('create_options')).filter((o) => o !== '');
  const parts = [
    variant === 'qemu' || l.includes(variant) ? '' : `variant ${variant}`,
    options.length === 0
      ? ''
      : own.every((r) => r.create_options === options[0]) && options.length === 1
        ? options.join(' / ')
        : `${options.join(' / ')} at some sizes`,
  ].filter((p) => p !== '');
  return parts.length === 0 ? l : `${l} (${parts.join('; ')})`;
}

function setupParagraph(view: ResultView): string {
  const { meta } = view.file;
  const rows = view.rows;
  const labels = distinct(rows, label);
  const devices = distinct(rows, device);
  const commit =
    meta.git_commit === null
      ? ''
      : `, commit ${meta.git_commit.slice(0, 12)}${meta.git_dirty ? ' with local changes' : ''}`;
  const parts = [
    `Suite ${meta.suite.name}${meta.suite.description === '' ? '' : ` (${meta.suite.description.replace(/\.$/, '')})`}: ` +
      `${meta.cases} cases in ${meta.groups.length} groups${meta.options.quick ? ', quick mode' : ''}, ` +
      `run by qedlab ${meta.lab_version}${commit} on Node ${meta.node_version}.`,
    `Formats and variants: ${labels.map((l) => describeLabel(rows, l)).join(', ')}.`,
    rows.length > 0 ? `Virtual sizes ${sizeRange(rows)}.` : '',
    devices.length > 0 ? `Device models: ${devices.map(describeDevice).join('; ')}.` : '',
    `${meta.seeds.length === 1 ? 'Seed' : 'Seeds'} ${meta.seeds.join(', ')}: a value is the mean over seeds, ± the standard deviation ` +
      'over seeds in percent (left out below 1.5 %), and the line under it the difference against ' +
      'the first column.',
    'Every time is simulated by the device model (the cost of the host I/O each step issues), ' +
      'not measured on this machine, so a rerun anywhere gives the same figures.',
    meta.errors > 0 ? `${meta.errors} cases failed and are left out.` : '',
    meta.skipped_formats.length > 0
      ? `Formats without a driver in this build, skipped: ${meta.skipped_formats.join(', ')}.`
      : '',
  ];
  return parts.filter((p) => p !== '').join(' ');
}

/** Whether a chart has at least one value its axes can show. */
export function hasDrawableData(chart: ChartSpec): boolean {
  const body = chart.body;
  if (body.kind === 'bar') {
    return body.series.some((s) => s.values.some((v) => Number.isFinite(v) && v > 0));
  }
  const xLog = body.x.log;
  const yLog = body.kind === 'cdf' ? false : body.y.log;
  const positiveY = body.kind !== 'cdf';
  return body.series.some((s) =>
    s.points.some(
      (p) =>
        Number.isFinite(p.x) &&
        Number.isFinite(p.y) &&
        (!xLog || p.x > 0) &&
        (!yLog || p.y > 0) &&
        (!positiveY || p.y > 0),
    ),
  );
}

/** The whole report of a results file: setup paragraph, then one section per figure. */
export function buildReport(file: ResultsFile): Report {
  const view = new ResultView(file);
  const sections: ReportSection[] = [];
  const claimed = new Set<string>();
  const usedIds = new Set<string>();
  for (const figure of figureDefinitions(claimed)) {
    const groups = view.groups.filter((g) => figure.select(g, view));
    for (const g of groups) claimed.add(g.name);
    const built =
      groups.length === 0 ? { charts: [], tables: [], notes: [] } : figure.build(groups, view);
    const notes = [...built.notes];
    // A chart with nothing to draw (every value zero on a log axis, a device model that charges
    // no time) is left out with a note rather than drawn empty.
    const charts = built.charts
      .filter((chart) => {
        if (hasDrawableData(chart)) return true;
        notes.push(`Not drawn: ${chart.id}: every value is zero.`);
        return false;
      })
      .map((chart) => {
        // Two charts must never share a file name: the second would overwrite the first.
        let id = chart.id;
        for (let n = 2; usedIds.has(id); n++) id = `${chart.id}-${n}`;
        usedIds.add(id);
        return id === chart.id ? chart : { ...chart, id };
      });
    const content = { ...built, charts };
    const empty = content.charts.length === 0 && content.tables.length === 0;
    if (empty) notes.unshift(`Not drawn: ${figure.missing}`);
    // Variant comparisons without data say nothing: there is one entry per possible question.
    if (empty && figure.id.startsWith('variant-')) continue;
    sections.push({
      id: figure.id,
      heading: figure.heading,
      charts: content.charts,
      tables: content.tables,
      notes,
    });
  }
  return {
    title: `qedlab results: suite ${file.meta.suite.name}`,
    setup: setupParagraph(view),
    sections,
    footer: {
      suite: file.meta.suite.name,
      seeds: file.meta.seeds,
      labVersion: file.meta.lab_version,
      ...(file.meta.git_commit === null ? {} : { gitCommit: file.meta.git_commit }),
    },
  };
}

export type { Measured };
