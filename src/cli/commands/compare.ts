import * as path from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import {
  compareRows,
  DEFAULT_COMPARE_METRICS,
  isMetricColumn,
  renderComparison,
} from '../../bench/compare.ts';
import { METRIC_COLUMNS } from '../../bench/metrics.ts';
import { type ResultsFile, readResults } from '../../bench/results.ts';
import { LabError, UsageError } from '../../util/errors.ts';
import { COMMAND_INFO } from './command-info.ts';

export const { command, describe } = COMMAND_INFO.compare;

export function builder(yargs: Argv) {
  return yargs
    .positional('a', { type: 'string', demandOption: true, describe: 'baseline results JSON' })
    .positional('b', {
      type: 'string',
      demandOption: true,
      describe: 'results JSON to compare with it',
    })
    .option('metrics', {
      type: 'string',
      describe: `comma-separated metric columns (default: ${DEFAULT_COMPARE_METRICS.join(',')}; "all" for every one)`,
    })
    .option('filter', {
      type: 'string',
      describe: 'only configurations whose id contains this text',
    });
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

function load(file: string): ResultsFile {
  try {
    return readResults(file);
  } catch (error) {
    throw new LabError(
      'RESULTS',
      `${file}: cannot read results: ${(error as Error).message.split('\n')[0]}`,
    );
  }
}

export function handler(argv: Args): void {
  const a = load(argv.a);
  const b = load(argv.b);
  let metrics: readonly string[] = DEFAULT_COMPARE_METRICS;
  if (argv.metrics === 'all') metrics = METRIC_COLUMNS.filter((m) => m !== 'wall_ms');
  else if (argv.metrics !== undefined) {
    metrics = argv.metrics.split(',').map((m) => m.trim());
    for (const m of metrics)
      if (!isMetricColumn(m)) throw new UsageError(`--metrics: unknown metric column '${m}'`);
  }
  const keep = (rows: ResultsFile['rows']) =>
    argv.filter === undefined
      ? rows
      : rows.filter((r) => String(r.config_id).includes(argv.filter as string));
  const comparison = compareRows(keep(a.rows), keep(b.rows), metrics);
  if (comparison.lines.length === 0)
    throw new LabError('RESULTS', 'the two results share no configuration with these metrics');
  process.stdout.write(renderComparison(comparison, path.basename(argv.a), path.basename(argv.b)));
}
