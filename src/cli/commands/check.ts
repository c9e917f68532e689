import type { ArgumentsCamelCase, Argv } from 'yargs';
import type { CheckResult, RepairMode } from '../../formats/types.ts';
import { LabError } from '../../util/errors.ts';
import { withImageFile } from '../image-args.ts';
import { openImageFile } from '../image-file.ts';
import { formatQemuJson } from '../qemu-json.ts';
import { COMMAND_INFO } from './command-info.ts';
import { VARIANT_OPTION } from './variants.ts';

export const { command, describe } = COMMAND_INFO.check;

export function builder(yargs: Argv) {
  return withImageFile(yargs)
    .option('r', {
      alias: 'repair',
      type: 'string',
      choices: ['leaks', 'all'],
      describe: 'repair leaks, or everything repairable',
    })
    .option('output', { type: 'string', choices: ['human', 'json'], default: 'human' })
    .option('variant', VARIANT_OPTION);
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

/** qemu-img's exit codes: 0 clean, 1 check could not run, 2 corruptions, 3 leaks only, 63 unsupported. */
export const CHECK_EXIT = {
  clean: 0,
  failed: 1,
  corruptions: 2,
  leaks: 3,
  unsupported: 63,
} as const;

/** What `qedlab check` runs: the parsed arguments (by yargs, or by ../plain-check-args.ts). */
export interface CheckOptions {
  file: string;
  format: string | undefined;
  variant: string | undefined;
  repair: RepairMode;
  output: 'human' | 'json';
}

/** The check's options from yargs' arguments. */
export function checkOptionsOf(argv: Args): CheckOptions {
  return {
    file: argv.file,
    format: argv.f,
    variant: argv.variant,
    repair: (argv.r ?? 'none') as RepairMode,
    output: argv.output as CheckOptions['output'],
  };
}

export function handler(argv: Args): void {
  runCheck(checkOptionsOf(argv));
}

/**
 * qemu-img check: open for check (no automatic repair; writable only with -r), run the check;
 * if it repaired anything, say so and check again, reporting the second result with the first
 * one's repair counts.
 */
export function runCheck(options: CheckOptions): void {
  const { repair } = options;
  const opened = openImageFile(options.file, {
    format: options.format,
    variant: options.variant,
    readOnly: repair === 'none',
    forCheck: true,
  });
  let result: CheckResult;
  try {
    const image = opened.image;
    if (!image.check) {
      throw new LabError('CHECK_UNSUPPORTED', 'This image format does not support checks', {
        exitCode: CHECK_EXIT.unsupported,
      });
    }
    result = image.check(repair);
    for (const m of result.messages) process.stderr.write(`${m}\n`);
    if (result.corruptionsFixed > 0 || result.leaksFixed > 0) {
      if (options.output === 'human') {
        process.stdout.write(
          'The following inconsistencies were found and repaired:\n\n' +
            `    ${result.leaksFixed} leaked clusters\n` +
            `    ${result.corruptionsFixed} corruptions\n\n` +
            'Double checking the fixed image now...\n',
        );
      }
      const fixed = result;
      result = image.check('none');
      for (const m of result.messages) process.stderr.write(`${m}\n`);
      result.corruptionsFixed = fixed.corruptionsFixed;
      result.leaksFixed = fixed.leaksFixed;
    }
    image.close();
  } finally {
    opened.release();
  }
  process.stdout.write(
    options.output === 'json'
      ? `${formatQemuJson(checkJson(result, options.file))}\n`
      : humanCheck(result),
  );
  if (result.checkErrors > 0) {
    process.stderr.write('qedlab: Check failed\n');
    process.exitCode = CHECK_EXIT.failed;
  } else if (result.corruptions > 0) {
    process.exitCode = CHECK_EXIT.corruptions;
  } else if (result.leaks > 0) {
    process.exitCode = CHECK_EXIT.leaks;
  } else {
    process.exitCode = CHECK_EXIT.clean;
  }
}

/** `qemu-img check --output=json`'s object: counters that are 0 are left out, as QEMU does. */
export function checkJson(result: CheckResult, filename: string): Record<string, unknown> {
  const nonZero = (n: number | undefined) => (n ? n : undefined);
  return {
    filename,
    format: result.format,
    'check-errors': result.checkErrors,
    'image-end-offset': nonZero(result.imageEndOffsetBytes),
    corruptions: nonZero(result.corruptions),
    leaks: nonZero(result.leaks),
    'corruptions-fixed': nonZero(result.corruptionsFixed),
    'leaks-fixed': nonZero(result.leaksFixed),
    'total-clusters': nonZero(result.totalClusters),
    'allocated-clusters': nonZero(result.allocatedClusters),
    'fragmented-clusters': nonZero(result.fragmentedClusters),
    'compressed-clusters': nonZero(result.compressedClusters),
  };
}

/** qemu-img's human report, line for line. */
export function humanCheck(result: CheckResult): string {
  let out = '';
  if (result.corruptions === 0 && result.leaks === 0 && result.checkErrors === 0) {
    out += 'No errors were found on the image.\n';
  } else {
    if (result.corruptions) {
      out += `\n${result.corruptions} errors were found on the image.\nData may be corrupted, or further writes to the image may corrupt it.\n`;
    }
    if (result.leaks) {
      out += `\n${result.leaks} leaked clusters were found on the image.\nThis means waste of disk space, but no harm to data.\n`;
    }
    if (result.checkErrors) {
      out += `\n${result.checkErrors} internal errors have occurred during the check.\n`;
    }
  }
  const total = result.totalClusters ?? 0;
  const allocated = result.allocatedClusters ?? 0;
  if (total !== 0 && allocated !== 0) {
    const pct = (n: number, d: number) => ((n * 100) / d).toFixed(2);
    out += `${allocated}/${total} = ${pct(allocated, total)}% allocated, ${pct(result.fragmentedClusters ?? 0, allocated)}% fragmented, ${pct(result.compressedClusters ?? 0, allocated)}% compressed clusters\n`;
  }
  if (result.imageEndOffsetBytes) out += `Image end offset: ${result.imageEndOffsetBytes}\n`;
  return out;
}
