import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { FsckMeasurement } from './fsck.ts';
import type { HistogramBucket } from './histogram.ts';
import { RESULT_COLUMNS, type ResultRow } from './metrics.ts';

export { RESULT_COLUMNS };

import type { TimelinePoint } from './timeline.ts';

export const RESULTS_SCHEMA = 'qedlab-results/1';

/** Per-case series too big for a CSV cell: what the charts draw besides the row's figures. */
export interface CaseDetail {
  /** Non-empty latency buckets of data requests: [lowNs, highNs, count]. */
  histogram: Array<[number, number, number]>;
  /** Column arrays, one entry per timeline bucket of `bucket_requests` consecutive requests. */
  timeline: TimelineColumns;
  /** Internal-snapshot create costs over the run (the n-th snapshot's cost), same layout. */
  snapshot_timeline: TimelineColumns;
  fsck_at_end: FsckMeasurement | null;
  fsck_points: FsckMeasurement[];
}

export interface TimelineColumns {
  bucket_requests: number;
  first_request: number[];
  requests: number[];
  mean_ns: number[];
  max_ns: number[];
  max_request: number[];
  end_ns: number[];
}

export interface RunMeta {
  lab_version: string;
  git_commit: string | null;
  git_dirty: boolean | null;
  node_version: string;
  suite: { name: string; file: string; hash: string; description: string };
  groups: Array<{ name: string; question: string }>;
  seeds: number[];
  options: { quick: boolean; filter: string[]; seed: number | null };
  cases: number;
  errors: number;
  skipped_formats: string[];
  /** Wall-clock facts about this run (everything else in the file is simulated and reproducible). */
  wall: { started_at: string; finished_at: string; total_ms: number };
}

export interface ResultsFile {
  schema: string;
  meta: RunMeta;
  columns: readonly string[];
  rows: ResultRow[];
  /** By case_id. */
  details: Record<string, CaseDetail>;
}

export function timelineColumns(
  points: readonly TimelinePoint[],
  bucketRequests: number,
): TimelineColumns {
  return {
    bucket_requests: bucketRequests,
    first_request: points.map((p) => p.firstRequest),
    requests: points.map((p) => p.requests),
    mean_ns: points.map((p) => Math.round(p.meanNs)),
    max_ns: points.map((p) => Math.round(p.maxNs)),
    max_request: points.map((p) => p.maxRequest),
    end_ns: points.map((p) => Math.round(p.endNs)),
  };
}

export function histogramTriples(
  buckets: readonly HistogramBucket[],
): Array<[number, number, number]> {
  return buckets.map((b) => [b.lowNs, b.highNs, b.count]);
}

export function csvText(rows: readonly ResultRow[]): string {
  return stringify(rows as ResultRow[], {
    header: true,
    columns: [...RESULT_COLUMNS],
    cast: { number: (v) => String(v) },
  });
}

/**
 * Writes `<dir>/<suite>.csv` and `<dir>/<suite>.json`, each to a temporary name then renamed, so
 * an interrupted run leaves the previous results whole. Returns the two paths.
 */
export function writeResults(outDir: string, results: ResultsFile): { csv: string; json: string } {
  fs.mkdirSync(outDir, { recursive: true });
  const base = path.join(outDir, results.meta.suite.name);
  const csv = `${base}.csv`;
  const json = `${base}.json`;
  writeAtomically(csv, csvText(results.rows));
  writeAtomically(json, resultsJsonText(results));
  return { csv, json };
}

/**
 * The JSON with one row and one case's details per line: compact (timelines are long) yet
 * line-diffable when a rerun changes one case.
 */
export function resultsJsonText(results: ResultsFile): string {
  const rows = results.rows.map((r) => ` ${JSON.stringify(r)}`).join(',\n');
  const details = Object.entries(results.details)
    .map(([id, d]) => ` ${JSON.stringify(id)}: ${JSON.stringify(d)}`)
    .join(',\n');
  return [
    '{',
    `"schema": ${JSON.stringify(results.schema)},`,
    `"meta": ${JSON.stringify(results.meta, null, 1)},`,
    `"columns": ${JSON.stringify(results.columns)},`,
    `"rows": [\n${rows}\n],`,
    `"details": {\n${details}\n}`,
    '}',
    '',
  ].join('\n');
}

export function writeAtomically(file: string, text: string): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    fs.writeFileSync(temporary, text);
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}

/**
 * Reads a results JSON written by `writeResults`; throws a plain Error, which callers turn into a
 * message of their own.
 */
export function readResults(file: string): ResultsFile {
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as ResultsFile;
  if (parsed.schema !== RESULTS_SCHEMA) throw new Error(`not a ${RESULTS_SCHEMA} file`);
  return parsed;
}

/** The lab checkout's commit and whether tracked files differ from it; null outside git. */
export function gitState(): { commit: string | null; dirty: boolean | null } {
  const cwd = path.dirname(new URL('../../package.json', import.meta.url).pathname);
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    let dirty = false;
    try {
      execFileSync('git', ['diff', '--quiet', 'HEAD', '--', 'src', 'workloads', 'package.json'], {
        cwd,
        stdio: 'ignore',
      });
    } catch {
      dirty = true;
    }
    return { commit, dirty };
  } catch {
    return { commit: null, dirty: null };
  }
}

export function labVersion(): string {
  const file = new URL('../../package.json', import.meta.url);
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}
