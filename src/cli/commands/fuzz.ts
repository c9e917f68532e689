import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { type FuzzReport, runFuzz } from '../../fuzz/fuzzer.ts';
import { FUZZ_FORMATS } from '../../fuzz/seed-images.ts';
import { writeFileAtomic } from '../../report/atomic-file.ts';
import { UsageError } from '../../util/errors.ts';
import { COMMAND_INFO } from './command-info.ts';

export const { command, describe } = COMMAND_INFO.fuzz;

export function builder(yargs: Argv) {
  return yargs
    .option('f', {
      alias: 'format',
      type: 'string',
      demandOption: true,
      describe: `format (${FUZZ_FORMATS.join(', ')})`,
    })
    .option('iterations', { alias: 'n', type: 'number', default: 1000, describe: 'iterations' })
    .option('seed', { type: 'number', default: 1, describe: 'seed' })
    .option('only', { type: 'number', describe: 'run this one iteration (reproduce a defect)' })
    .option('out', {
      type: 'string',
      describe: 'write each defect’s mutated image and description into this directory',
    })
    .option('output', { choices: ['human', 'json'] as const, default: 'human' as const });
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

/** Exit status 1 when any defect (not a clean LabError or repair) was found. */
export function handler(argv: Args): void {
  if (!(FUZZ_FORMATS as readonly string[]).includes(argv.f))
    throw new UsageError(`the fuzzer covers ${FUZZ_FORMATS.join(', ')}, not '${argv.f}'`);
  if (!Number.isInteger(argv.iterations) || argv.iterations < 1 || argv.iterations > 1e9)
    throw new UsageError(`--iterations: expected 1..1000000000, got ${argv.iterations}`);
  if (!Number.isInteger(argv.seed) || argv.seed < 0 || argv.seed > 0xffffffff)
    throw new UsageError(`--seed: expected a 32-bit unsigned integer, got ${argv.seed}`);
  if (argv.only !== undefined && (!Number.isInteger(argv.only) || argv.only < 0))
    throw new UsageError(`--only: expected an iteration number, got ${argv.only}`);
  const report = runFuzz({
    format: argv.f,
    iterations: argv.iterations,
    seed: argv.seed,
    ...(argv.only === undefined ? {} : { only: argv.only }),
  });
  if (argv.out !== undefined) writeDefects(report, argv.out);
  if (argv.output === 'json') {
    const { defectSamples, ...rest } = report;
    const samples = defectSamples.map(({ image: _image, ...d }) => d);
    process.stdout.write(`${JSON.stringify({ ...rest, defectSamples: samples }, null, 1)}\n`);
  } else {
    process.stdout.write(renderFuzzReport(report));
  }
  if (report.defects > 0) process.exitCode = 1;
}

export function renderFuzzReport(report: FuzzReport): string {
  const lines = [
    `${report.format}: ${report.iterations} iterations (seed ${report.seed}): ` +
      `${report.clean} clean, ${report.repaired} repaired, ${report.labErrors} refused with a LabError, ` +
      `${report.defects} defects`,
    'errors seen (step: code, count):',
  ];
  const kinds = Object.entries(report.errorKinds).sort((a, b) => b[1] - a[1]);
  for (const [kind, n] of kinds) lines.push(`  ${kind}: ${n}`);
  const classes = Object.entries(report.defectClasses).sort((a, b) => b[1] - a[1]);
  if (classes.length > 0) lines.push('defect classes:');
  for (const [k, n] of classes) lines.push(`  ${n} x ${k}`);
  for (const d of report.defectSamples) {
    lines.push(
      `DEFECT ${d.kind} at ${d.step} (iteration ${d.iteration}, ${d.seedImage}): ${d.message.split('\n')[0]}`,
    );
    lines.push(`  mutations: ${d.mutations.map((m) => m.detail).join('; ')}`);
    lines.push(
      `  reproduce: qedlab fuzz -f ${report.format} --seed ${report.seed} --only ${d.iteration}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function writeDefects(report: FuzzReport, dir: string): void {
  if (report.defectSamples.length === 0) return;
  fs.mkdirSync(dir, { recursive: true });
  for (const d of report.defectSamples) {
    const base = path.join(dir, `${report.format}-seed${report.seed}-iter${d.iteration}`);
    writeFileAtomic(`${base}.${report.format}`, d.image);
    writeFileAtomic(
      `${base}.txt`,
      `${d.kind} at ${d.step}: ${d.message}\n` +
        `seed image: ${d.seedImage}\nmutations:\n${d.mutations.map((m) => `  ${m.kind}: ${m.detail}`).join('\n')}\n`,
    );
  }
}
