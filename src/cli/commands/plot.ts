import type { ArgumentsCamelCase, Argv } from 'yargs';
import { plotOutputLines, plotResults } from '../../report/plot-results.ts';
import { COMMAND_INFO } from './command-info.ts';

export const { command, describe } = COMMAND_INFO.plot;

export function builder(yargs: Argv) {
  return yargs
    .positional('results', {
      type: 'string',
      demandOption: true,
      describe: 'results file written by qedlab bench (results/<suite>.json)',
    })
    .option('out', {
      type: 'string',
      describe: 'directory for the PNGs',
      defaultDescription: 'charts/<suite>/ beside results/',
    });
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

/** Prints the paths written, one a line (machine output on stdout, as `qedlab bench`). */
export function handler(argv: Args): void {
  process.stdout.write(plotOutputLines(plotResults(argv.results, argv.out)));
}
