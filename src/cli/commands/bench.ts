import * as path from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { writeResults } from '../../bench/results.ts';
import { runSuite } from '../../bench/run-suite.ts';
import { loadSuite } from '../../bench/suite.ts';
import { plotOutputLines, plotResults } from '../../report/plot-results.ts';
import { UsageError } from '../../util/errors.ts';
import { COMMAND_INFO } from './command-info.ts';

export const { command, describe } = COMMAND_INFO.bench;

const DEFAULT_SUITE = new URL('../../../workloads/default.json', import.meta.url).pathname;
const DEFAULT_OUT = new URL('../../../results/', import.meta.url).pathname;

export function builder(yargs: Argv) {
  return yargs
    .option('suite', {
      type: 'string',
      describe: 'suite file (JSON)',
      default: DEFAULT_SUITE,
      defaultDescription: 'workloads/default.json',
    })
    .option('quick', {
      type: 'boolean',
      default: false,
      describe: "apply each group's quick overrides, first seed only",
    })
    .option('filter', {
      type: 'string',
      array: true,
      default: [] as string[],
      describe:
        'only cases matching EXPR: key=glob terms (group, format, variant, label, workload, type, size, device, seed) or a substring of the case id; comma = and, repeat = or',
    })
    .option('seed', {
      type: 'number',
      describe: "run every case with this seed instead of the suite's seeds",
    })
    .option('out', {
      type: 'string',
      default: DEFAULT_OUT,
      defaultDescription: 'results/',
      describe: 'directory for <suite>.csv and <suite>.json',
    })
    .option('progress', {
      choices: ['auto', 'always', 'never'] as const,
      default: 'auto' as const,
      describe: 'progress bar on stderr (auto: when it is a terminal)',
    });
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

export function handler(argv: Args): void {
  if (
    argv.seed !== undefined &&
    (!Number.isInteger(argv.seed) || argv.seed < 0 || argv.seed > 0xffffffff)
  )
    throw new UsageError(`--seed: expected a 32-bit unsigned integer, got ${argv.seed}`);
  const seeds = argv.seed === undefined ? undefined : [argv.seed];
  const suite = loadSuite(argv.suite, { quick: argv.quick, ...(seeds ? { seeds } : {}) });
  const results = runSuite(suite, {
    filters: argv.filter,
    quick: argv.quick,
    ...(argv.seed === undefined ? {} : { seed: argv.seed }),
    ...(argv.progress === 'auto' ? {} : { progress: argv.progress === 'always' }),
  });
  const written = writeResults(argv.out, results);
  const { cases, errors, wall } = results.meta;
  process.stderr.write(
    `${suite.name}: ${cases} cases, ${errors} failed, ${(wall.total_ms / 1000).toFixed(1)} s wall` +
      (results.meta.skipped_formats.length > 0
        ? ` (skipped, no driver: ${results.meta.skipped_formats.join(', ')})`
        : '') +
      '\n',
  );
  for (const row of results.rows)
    if (row.status !== 'ok') process.stderr.write(`  failed: ${row.case_id}: ${row.error}\n`);
  process.stdout.write(
    `${path.relative(process.cwd(), written.csv)}\n${path.relative(process.cwd(), written.json)}\n`,
  );
  // Charts and reports for the lab's own results/ (`qedlab plot` draws any other results file).
  if (path.resolve(argv.out) === path.resolve(DEFAULT_OUT))
    process.stdout.write(plotOutputLines(plotResults(written.json)));
  if (errors > 0) process.exitCode = 1;
}
