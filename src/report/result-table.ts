import type { ResultRow } from '../bench/metrics.ts';
import type { CaseDetail, ResultsFile } from '../bench/results.ts';
import { type Measured, measure } from './text-table.ts';

/**
 * Read access to a results file for the plot layer: successful rows by suite group, numeric
 * columns, and averaging over seeds (a configuration is everything in `config_id`).
 */

export interface GroupView {
  name: string;
  question: string;
  rows: ResultRow[];
}

export class ResultView {
  readonly file: ResultsFile;
  /** Rows that ran to the end (failed cases have no measurements). */
  readonly rows: ResultRow[];
  readonly groups: GroupView[];

  constructor(file: ResultsFile) {
    this.file = file;
    this.rows = file.rows.filter((r) => r.status === 'ok');
    const questions = new Map(file.meta.groups.map((g) => [g.name, g.question]));
    const names = [
      ...new Set([...file.meta.groups.map((g) => g.name), ...this.rows.map(text('group'))]),
    ];
    this.groups = names
      .map((name) => ({
        name,
        question: questions.get(name) ?? '',
        rows: this.rows.filter((r) => r.group === name),
      }))
      .filter((g) => g.rows.length > 0);
  }

  detail(row: ResultRow): CaseDetail | undefined {
    return this.file.details[String(row.case_id)];
  }
}

/** A column as a number; undefined when null, missing or not numeric. */
export function num(row: ResultRow, column: string): number | undefined {
  const value = row[column];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function text(column: string): (row: ResultRow) => string {
  return (row) => String(row[column] ?? '');
}

/** Distinct values of a key, in order of first appearance (suites list the baseline first). */
export function distinct<T>(rows: readonly ResultRow[], key: (row: ResultRow) => T): T[] {
  return [...new Set(rows.map(key))];
}

export function groupBy<K>(
  rows: readonly ResultRow[],
  key: (row: ResultRow) => K,
): Map<K, ResultRow[]> {
  const groups = new Map<K, ResultRow[]>();
  for (const row of rows) {
    const k = key(row);
    const list = groups.get(k);
    if (list === undefined) groups.set(k, [row]);
    else list.push(row);
  }
  return groups;
}

/** A metric over the seeds of rows (one configuration); undefined when no row has it. */
export function measureColumn(
  rows: readonly ResultRow[],
  column: string,
  scale = 1,
): Measured | undefined {
  const values = rows.map((r) => num(r, column)).filter((v): v is number => v !== undefined);
  return values.length === 0 ? undefined : measure(values.map((v) => v * scale));
}

/** A workload parameter from the row's `workload_params` (`k=v,k=v`); percentages → fractions. */
export function workloadParam(row: ResultRow, key: string): number | undefined {
  for (const pair of String(row.workload_params ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at < 0 || pair.slice(0, at).trim() !== key) continue;
    const raw = pair.slice(at + 1).trim();
    const value = raw.endsWith('%') ? Number(raw.slice(0, -1)) / 100 : Number(raw);
    return Number.isFinite(value) ? value : undefined;
  }
  return undefined;
}

/** Lower-case, digits and dashes: chart file names. */
export function slug(...parts: ReadonlyArray<string | number | undefined>): string {
  return parts
    .filter((p) => p !== undefined && p !== '')
    .map((p) =>
      String(p)
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, ''),
    )
    .join('-');
}
