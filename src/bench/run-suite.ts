import { LabError } from '../util/errors.ts';
import { createWorkload } from '../workloads/index.ts';
import { type BenchCase, expandSuite } from './cases.ts';
import { filterCases } from './filter.ts';
import { errorRow, metricsRow, type ResultRow } from './metrics.ts';
import { createProgress } from './progress.ts';
import {
  type CaseDetail,
  gitState,
  histogramTriples,
  labVersion,
  RESULT_COLUMNS,
  RESULTS_SCHEMA,
  type ResultsFile,
  timelineColumns,
} from './results.ts';
import { runCase } from './run-case.ts';
import type { Suite } from './suite-types.ts';

export interface RunSuiteOptions {
  filters?: string[];
  quick?: boolean;
  seed?: number;
  /** Show the progress bar (default: when stderr is a terminal). */
  progress?: boolean;
  /** Called after each case (tests, logs). */
  onCase?: (row: ResultRow) => void;
}

/** Expands, filters and runs a suite; returns the results file's content (not yet written). */
export function runSuite(suite: Suite, options: RunSuiteOptions = {}): ResultsFile {
  const startedAt = new Date();
  const wallStart = performance.now();
  const expansion = expandSuite(suite);
  const cases = filterCases(expansion.cases, options.filters ?? []);
  if (cases.length === 0) throw new LabError('SUITE', `${suite.file}: no case matches the filter`);
  const counts = cases.map(requestCountOf);
  const progress = createProgress(
    counts.reduce((a, b) => a + b, 0),
    options.progress ?? process.stderr.isTTY === true,
  );
  const rows: ResultRow[] = [];
  const details: Record<string, CaseDetail> = {};
  try {
    cases.forEach((c, i) => {
      progress.startCase(i, cases.length, c.caseId);
      const caseStart = performance.now();
      let row: ResultRow;
      try {
        const m = runCase(c, { onProgress: (done) => progress.advance(done) });
        row = metricsRow(c, m);
        details[c.caseId] = {
          histogram: histogramTriples(m.histogram),
          timeline: timelineColumns(m.timeline, m.timelineBucketRequests),
          snapshot_timeline: timelineColumns(m.snapshotTimeline, m.snapshotTimelineBucketRequests),
          fsck_at_end: m.fsckAtEnd ?? null,
          fsck_points: m.fsckPoints,
        };
      } catch (error) {
        row = errorRow(
          c,
          (error as Error).message.split('\n')[0] ?? 'error',
          performance.now() - caseStart,
        );
      }
      rows.push(row);
      progress.finishCase(counts[i] ?? 0);
      options.onCase?.(row);
    });
  } finally {
    progress.stop();
  }
  const git = gitState();
  const seeds = [...new Set(cases.map((c) => c.seed))].sort((a, b) => a - b);
  return {
    schema: RESULTS_SCHEMA,
    meta: {
      lab_version: labVersion(),
      git_commit: git.commit,
      git_dirty: git.dirty,
      node_version: process.version,
      suite: {
        name: suite.name,
        file: suite.file,
        hash: suite.hash,
        description: suite.description,
      },
      groups: suite.groups.map((g) => ({ name: g.name, question: g.question })),
      seeds,
      options: {
        quick: options.quick ?? false,
        filter: options.filters ?? [],
        seed: options.seed ?? null,
      },
      cases: rows.length,
      errors: rows.filter((r) => r.status !== 'ok').length,
      skipped_formats: expansion.skippedFormats,
      wall: {
        started_at: startedAt.toISOString(),
        finished_at: new Date().toISOString(),
        total_ms: Math.round(performance.now() - wallStart),
      },
    },
    columns: RESULT_COLUMNS,
    rows,
    details,
  };
}

/** Progress units a reopen after a power cut counts for (a guess, used for the ETA only). */
const REOPEN_PROGRESS_UNITS = 2000;

/** Progress units of a case: its guest requests, plus a share for each measured reopen. */
function requestCountOf(c: BenchCase): number {
  const reopens = c.crashPoints + (c.fsckAtEnd ? 1 : 0);
  try {
    const requests =
      createWorkload(c.workload.type, c.workload.params, {
        virtualSizeBytes: c.sizeBytes,
        seed: c.seed,
        baseDir: c.baseDir,
      }).requestCount ?? 0;
    return requests + reopens * REOPEN_PROGRESS_UNITS;
  } catch {
    return reopens * REOPEN_PROGRESS_UNITS;
  }
}
