import type { ArgumentsCamelCase, Argv } from 'yargs';
import { type BenchCase, sizeLabel } from '../../bench/cases.ts';
import { metricsRow, type ResultRow } from '../../bench/metrics.ts';
import { histogramTriples, timelineColumns } from '../../bench/results.ts';
import { runCase } from '../../bench/run-case.ts';
import { variantProblem } from '../../bench/suite.ts';
import { COST_MODEL_NAMES } from '../../device/cost-models.ts';
import { parseCreateOptions } from '../../formats/create-options.ts';
import { formatNames, getDriver } from '../../formats/registry.ts';
import { UsageError } from '../../util/errors.ts';
import { parseSizeBytes } from '../../util/size.ts';
import { createWorkload, parseWorkloadParams, WORKLOAD_NAMES } from '../../workloads/index.ts';
import { COMMAND_INFO } from './command-info.ts';

export const { command, describe } = COMMAND_INFO.run;

export function builder(yargs: Argv) {
  return yargs
    .option('f', {
      alias: 'format',
      type: 'string',
      default: 'raw',
      describe: `format (${formatNames().join(', ')})`,
    })
    .option('variant', {
      type: 'string',
      default: 'qemu',
      describe: 'design variant of the format',
    })
    .option('o', {
      type: 'string',
      array: true,
      default: [] as string[],
      describe: 'create options key=value,...',
    })
    .option('workload', {
      alias: 'w',
      choices: WORKLOAD_NAMES,
      default: 'random',
      describe: 'workload type',
    })
    .option('size', { type: 'string', default: '1T', describe: 'virtual size (1T, 64T, 1P)' })
    .option('device', {
      alias: 'd',
      choices: COST_MODEL_NAMES,
      default: 'none' as const,
      describe: 'device cost model',
    })
    .option('seed', { type: 'number', default: 1, describe: 'workload seed' })
    .option('bs', { type: 'string', describe: 'block size (workload parameter bs)' })
    .option('requests', {
      alias: 'n',
      type: 'string',
      describe: 'request count (workload parameter)',
    })
    .option('density', { type: 'string', describe: 'allocation density for sparse, e.g. 0.003%' })
    .option('p', {
      alias: 'param',
      type: 'string',
      array: true,
      default: [] as string[],
      describe: 'any workload parameter key=value (repeatable)',
    })
    .option('crash-points', {
      type: 'number',
      default: 0,
      describe: 'power cuts at seeded random points, each reopened and measured',
    })
    .option('crash-policy', {
      choices: ['all-lost', 'random-subset'] as const,
      default: 'all-lost' as const,
    })
    .option('fsck', {
      type: 'boolean',
      default: true,
      describe: 'power cut at the end and measure the reopen (--no-fsck to skip)',
    })
    .option('cache', {
      choices: ['writeback', 'writethrough'] as const,
      default: 'writeback' as const,
    })
    .option('data', {
      choices: ['drop', 'store'] as const,
      default: 'drop' as const,
      describe: 'store guest data, or drop it (metadata only)',
    })
    .option('output', { choices: ['human', 'json'] as const, default: 'human' as const });
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

export function handler(argv: Args): void {
  getDriver(argv.f);
  const problem = variantProblem(argv.f, argv.variant);
  if (problem !== undefined) throw new UsageError(problem);
  const sizeBytes = parseSizeBytes(argv.size);
  if (!Number.isInteger(argv.seed) || argv.seed < 0 || argv.seed > 0xffffffff)
    throw new UsageError(`--seed: expected a 32-bit unsigned integer, got ${argv.seed}`);
  const crashPoints = argv.crashPoints;
  if (!Number.isInteger(crashPoints) || crashPoints < 0 || crashPoints > 1000)
    throw new UsageError(`--crash-points: expected 0..1000, got ${crashPoints}`);
  const raw: Record<string, string> = {};
  for (const text of argv.p) {
    const eq = text.indexOf('=');
    if (eq <= 0) throw new UsageError(`-p '${text}': expected key=value`);
    raw[text.slice(0, eq)] = text.slice(eq + 1);
  }
  if (argv.bs !== undefined) raw.bs = argv.bs;
  if (argv.requests !== undefined) raw.requests = argv.requests;
  if (argv.density !== undefined) raw.density = argv.density;
  const params = parseWorkloadParams(argv.workload, raw);
  const baseDir = process.cwd();
  createWorkload(argv.workload, params, { virtualSizeBytes: sizeBytes, seed: argv.seed, baseDir });
  const label = argv.variant === 'qemu' ? argv.f : `${argv.f}:${argv.variant}`;
  const configId = ['run', label, argv.workload, sizeLabel(sizeBytes), argv.device].join('/');
  const c: BenchCase = {
    suite: 'run',
    group: 'run',
    format: argv.f,
    variant: argv.variant,
    label,
    createOptions: parseCreateOptions(argv.o),
    workload: { type: argv.workload, label: argv.workload, params, source: 'command line' },
    sizeBytes,
    device: argv.device,
    seed: argv.seed,
    crashPoints,
    crashPolicy: argv.crashPolicy,
    fsckAtEnd: argv.fsck,
    cache: argv.cache,
    data: argv.data,
    baseDir,
    configId,
    caseId: `${configId}/seed=${argv.seed}`,
  };
  const m = runCase(c);
  const row = metricsRow(c, m);
  if (argv.output === 'json') {
    const detail = {
      histogram: histogramTriples(m.histogram),
      timeline: timelineColumns(m.timeline, m.timelineBucketRequests),
      fsck_at_end: m.fsckAtEnd ?? null,
      fsck_points: m.fsckPoints,
    };
    process.stdout.write(`${JSON.stringify({ row, detail }, null, 1)}\n`);
  } else {
    process.stdout.write(renderRow(row));
  }
  if (row.status !== 'ok') process.exitCode = 1;
}

/** `name  value` lines, skipping empty measurements and all-zero per-kind counters. */
export function renderRow(row: ResultRow): string {
  const entries = Object.entries(row).filter(
    ([k, v]) =>
      v !== null &&
      v !== '' &&
      !(
        /^host_(write|read)_(ops|bytes)_|^host_(written|read)_bytes_|^metadata_footprint_bytes_/.test(
          k,
        ) && v === 0
      ),
  );
  const width = Math.max(...entries.map(([k]) => k.length));
  return `${entries
    .map(
      ([k, v]) =>
        `${k.padEnd(width)}  ${typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 6 }) : v}`,
    )
    .join('\n')}\n`;
}
