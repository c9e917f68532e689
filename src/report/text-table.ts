import { mean, stddev } from '../util/stats.ts';
import { formatG } from './units.ts';

/**
 * Fixed-width comparison tables in the style of QEMU's scripts/simplebench (results_to_text.py),
 * which is how block-layer numbers appear on qemu-devel: rows are cases, columns are
 * environments (here formats/variants), a cell is `2.1e+03 ± 4%` (mean, and the standard
 * deviation over seeds as a percentage, left out below 1.5 %), and under each row a second row
 * gives each column's relative difference against the baseline column.
 */

/** A measured value over seeds. */
export interface Measured {
  mean: number;
  /** Sample standard deviation over seeds (0 for one seed). */
  stdev: number;
  seeds: number;
}

export function measure(values: readonly number[]): Measured {
  return { mean: mean(values), stdev: stddev(values), seeds: values.length };
}

/** Spread below this percentage is not printed (simplebench's "don't care too much"). */
export const SPREAD_THRESHOLD_PERCENT = 1.5;

/**
 * How a cell's number is written: `g2` is simplebench's two significant digits; `exact` keeps
 * whole counts whole (512 tables, not 5.1e+02) where the exact figure is the point.
 */
export type CellPrecision = 'g2' | 'g3' | 'exact';

export function formatMeasured(value: Measured, precision: CellPrecision = 'g2'): string {
  const text = formatNumber(value.mean, precision);
  if (value.mean === 0 || value.seeds < 2) return text;
  const spreadPercent = (value.stdev / Math.abs(value.mean)) * 100;
  if (spreadPercent < SPREAD_THRESHOLD_PERCENT) return text;
  return `${text} ± ${Math.ceil(spreadPercent)}%`;
}

function formatNumber(value: number, precision: CellPrecision): string {
  if (precision === 'exact' && Math.abs(value) < 1e15) {
    // A mean over seeds of whole counts can be fractional: one decimal keeps it readable.
    return String(Number.isInteger(value) ? value : Number(value.toFixed(1)));
  }
  return formatG(value, precision === 'g3' ? 3 : 2);
}

/**
 * Relative difference of `value` against `baseline`, as simplebench prints it (`+12%`, `-3%`).
 * Past ±1000 % a ratio reads better (`×120`); a zero baseline has no relative difference.
 */
export function formatRelative(value: number, baseline: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(baseline)) return '--';
  if (baseline === 0) return value === 0 ? '+0%' : '--';
  const ratio = value / baseline;
  if (ratio >= 11) return `×${formatG(ratio, 2)}`;
  const percent = Math.round((ratio - 1) * 100);
  return `${percent >= 0 ? '+' : ''}${percent}%`;
}

export interface ComparisonRow {
  label: string;
  /** One per column; undefined = not measured (printed as `-`). */
  cells: Array<Measured | undefined>;
}

export interface ComparisonTable {
  /** What is measured, with its unit: "fsck time after a power cut, ms". */
  title: string;
  /** Header of the row-label column ("virtual size"). */
  rowTitle: string;
  /** Column names; the first is the baseline the differences are taken against. */
  columns: string[];
  rows: ComparisonRow[];
  precision?: CellPrecision;
}

/**
 * Renders a table as fixed-width text: a title line, the header, a dashed rule, then per row
 * the values and, when there is more than one column, the row of differences vs the baseline.
 * With more than two columns they are lettered (A, B, …) and differences read `A+12%`.
 */
export function renderComparisonTable(table: ComparisonTable): string {
  const lettered = table.columns.length > 2;
  const letter = (i: number) => String.fromCharCode(65 + (i % 26));
  const grid: string[][] = [];
  if (lettered) grid.push(['', ...table.columns.map((_, i) => letter(i))]);
  grid.push([table.rowTitle, ...table.columns]);
  const headerRows = grid.length;
  for (const row of table.rows) {
    grid.push([
      row.label,
      ...table.columns.map((_, i) => {
        const cell = row.cells[i];
        return cell === undefined ? '-' : formatMeasured(cell, table.precision);
      }),
    ]);
    if (table.columns.length < 2) continue;
    const baseline = row.cells[0];
    const differences = table.columns.map((_, i) => {
      const cell = row.cells[i];
      if (i === 0 || cell === undefined || baseline === undefined) return '';
      return `${lettered ? letter(0) : ''}${formatRelative(cell.mean, baseline.mean)}`;
    });
    differences[0] = '';
    if (differences.some((d) => d !== '')) grid.push(['', ...differences]);
  }
  const widths = (grid[0] ?? []).map((_, c) => Math.max(...grid.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c] ?? 0))
      .join('  ')
      .trimEnd();
  const out = [table.title, ''];
  grid.slice(0, headerRows).forEach((r) => {
    out.push(line(r));
  });
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of grid.slice(headerRows)) out.push(line(r));
  return out.join('\n');
}
