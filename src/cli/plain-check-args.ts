import type { CheckOptions } from './commands/check.ts';

/** `-r`'s and `--output`'s values, as the check command's yargs builder lists them. */
const REPAIR_CHOICES: ReadonlySet<string> = new Set(['leaks', 'all']);
const OUTPUT_CHOICES: ReadonlySet<string> = new Set(['human', 'json']);

/** The spellings accepted for each option: short, long, long with `=`. */
const OPTION_OF_FLAG: Readonly<Record<string, 'format' | 'repair' | 'output'>> = {
  '-f': 'format',
  '--format': 'format',
  '-r': 'repair',
  '--repair': 'repair',
  '--output': 'output',
};

/**
 * A value yargs hands over unchanged as a string: not empty, not an option, not something its
 * parser might read as a number.
 */
function isPlainValue(token: string | undefined): token is string {
  return (
    token !== undefined &&
    token.trim() !== '' &&
    !token.startsWith('-') &&
    Number.isNaN(Number(token))
  );
}

/**
 * `qedlab check` arguments in their plain shapes (`check [-f FMT] [-r leaks|all]
 * [--output human|json] FILE`, each option at most once, `--format=FMT`-style spellings too)
 * as the check command's options, so the CLI can run the check without loading yargs, which
 * costs more start-up than the rest of the command. Anything else (help, --variant, repeated
 * options, bad choices, a value yargs could read as a number or an option) gives undefined:
 * yargs parses it and prints its own errors, exactly as before.
 */
export function plainCheckArgs(args: readonly string[]): CheckOptions | undefined {
  if (args[0] !== 'check') return undefined;
  const values: Partial<Record<'format' | 'repair' | 'output' | 'file', string>> = {};
  for (let i = 1; i < args.length; i++) {
    const token = args[i] as string;
    if (!token.startsWith('-')) {
      if (values.file !== undefined || !isPlainValue(token)) return undefined;
      values.file = token;
      continue;
    }
    const equals = token.indexOf('=');
    const flag = token.startsWith('--') && equals > 0 ? token.slice(0, equals) : token;
    const option = Object.hasOwn(OPTION_OF_FLAG, flag) ? OPTION_OF_FLAG[flag] : undefined;
    if (option === undefined || values[option] !== undefined) return undefined;
    const value = flag === token ? args[++i] : token.slice(equals + 1);
    if (!isPlainValue(value)) return undefined;
    values[option] = value;
  }
  const { file, format, repair, output = 'human' } = values;
  if (file === undefined) return undefined;
  if (repair !== undefined && !REPAIR_CHOICES.has(repair)) return undefined;
  if (!OUTPUT_CHOICES.has(output)) return undefined;
  return {
    file,
    format,
    variant: undefined,
    repair: (repair ?? 'none') as CheckOptions['repair'],
    output: output as CheckOptions['output'],
  };
}
