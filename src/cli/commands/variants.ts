import type { ArgumentsCamelCase, Argv } from 'yargs';
import { formatNames, getDriver } from '../../formats/registry.ts';
import { variantProblem } from '../../formats/variant-names.ts';
import { UsageError } from '../../util/errors.ts';
import { COMMAND_INFO } from './command-info.ts';

export const { command, describe } = COMMAND_INFO.variants;

/** One line each: what `qemu` means per format (the baseline every variant is measured against). */
const BASELINES: Readonly<Record<string, string>> = {
  qed: "QEMU 7.2's QED: NEED_CHECK flag, 5 s need-check timer, append-only allocation (baseline)",
  qcow2: "QEMU 7.2's qcow2: first-fit allocation, refcount table grown 1.5x (baseline)",
};

export function builder(yargs: Argv) {
  return yargs.option('f', {
    alias: 'format',
    type: 'string',
    describe: `only this format (${formatNames().join(', ')})`,
  });
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

/** Rows of `qedlab variants`: format, variant name, description. */
export function variantRows(format?: string): Array<[string, string, string]> {
  const formats = format === undefined ? formatNames() : [getDriver(format).name];
  const rows: Array<[string, string, string]> = [];
  for (const name of formats) {
    const variants = getDriver(name).variants;
    if (!variants) continue;
    rows.push([name, 'qemu', BASELINES[name] ?? "QEMU 7.2's behaviour (baseline)"]);
    for (const [key, text] of Object.entries(variants)) rows.push([name, key, text]);
  }
  return rows;
}

export function handler(argv: Args): void {
  const rows = variantRows(argv.f);
  if (rows.length === 0) throw new UsageError(`format '${argv.f}' has no design variants`);
  const width = Math.max(...rows.map(([f, v]) => f.length + 1 + v.length));
  for (const [f, v, text] of rows) console.log(`${`${f} ${v}`.padEnd(width)}  ${text}`);
}

/** The `--variant` option shared by create, io and check. */
export const VARIANT_OPTION = {
  type: 'string',
  describe: 'design variant of the format (see `qedlab variants`; default qemu)',
} as const;

/** Throws a UsageError when the format has no such variant; undefined for the baseline. */
export function checkedVariant(format: string, variant: string | undefined): string | undefined {
  if (variant === undefined || variant === 'qemu') return undefined;
  const problem = variantProblem(format, variant);
  if (problem !== undefined) throw new UsageError(problem);
  return variant;
}
