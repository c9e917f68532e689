import { describe, expect, it } from 'vitest';
import type { CommandModule } from 'yargs';
import { configureCli } from '../src/cli/cli-parser.ts';
import * as check from '../src/cli/commands/check.ts';
import { COMMANDS } from '../src/cli/commands/index.ts';
import { plainCheckArgs } from '../src/cli/plain-check-args.ts';

/**
 * What yargs, with the full CLI, makes of `args`: the check command's options if it would run
 * the check, else the error it fails with.
 */
async function yargsCheckOptions(
  args: readonly string[],
): Promise<check.CheckOptions | { error: string }> {
  let options: check.CheckOptions | undefined;
  const spy: CommandModule = {
    command: check.command,
    describe: check.describe,
    builder: check.builder as unknown as CommandModule['builder'],
    handler: (argv) => {
      options = check.checkOptionsOf(argv as unknown as Parameters<typeof check.handler>[0]);
    },
  };
  const commands = (COMMANDS as unknown as CommandModule[]).map((command) =>
    command.command === check.command ? spy : command,
  );
  try {
    await configureCli(args, commands).parseAsync();
  } catch (error) {
    return { error: (error as Error).message };
  }
  return options ?? { error: 'the check did not run' };
}

/**
 * The CLI runs a check given in plain arguments without yargs (src/cli/plain-check-args.ts): for
 * those it must find exactly the options yargs finds, and it must leave everything else, above
 * all what yargs rejects, to yargs.
 */
describe('plain check arguments', () => {
  it.each([
    [['check', 'image.qcow2']],
    [['check', '-f', 'qcow2', 'image.qcow2']],
    [['check', 'image.qed', '-f', 'qed']],
    [['check', '--format', 'qcow2', 'image.qcow2']],
    [['check', '--format=qed', 'image.qed']],
    [['check', '-f', 'qcow2', '--output=json', 'image.qcow2']],
    [['check', '--output', 'human', '-f', 'qcow2', 'image.qcow2']],
    [['check', '-r', 'leaks', '-f', 'qcow2', 'image.qcow2']],
    [['check', '--repair', 'all', 'image.qcow2']],
    [['check', '--repair=all', '--output', 'json', 'dir/with space.qcow2']],
    [['check', '-f', 'raw', 'check']],
    [['check', '-f', 'nonsense', 'image']],
    [['check', '/abs/path/16t-every-2g.qcow2', '-f', 'qcow2']],
  ])('%j: the options yargs finds', async (args) => {
    const plain = plainCheckArgs(args);
    expect(plain).toBeDefined();
    expect(plain).toEqual(await yargsCheckOptions(args));
  });

  it.each([
    [['check']],
    [['check', 'a.qcow2', 'b.qcow2']],
    [['check', '-f', 'qcow2']],
    [['check', '-f']],
    [['check', '-r', 'some', 'image.qcow2']],
    [['check', '--output', 'xml', 'image.qcow2']],
    [['check', '--output=JSON', 'image.qcow2']],
    [['check', '--frobnicate', 'image.qcow2']],
    [['check', '-x', 'image.qcow2']],
    [['check', '--help']],
    [['check', 'image.qcow2', '-h']],
    [['check', '--version']],
    [['chek', 'image.qcow2']],
    [['-f', 'qcow2', 'check', 'image.qcow2']],
    [['check', '-f', 'qcow2', '-f', 'qed', 'image']],
    [['check', '-f=qcow2', 'image.qcow2']],
    [['check', '--variant', 'qemu', 'image.qcow2']],
    [['check', '--', 'image.qcow2']],
    [['check', '-f', '-r', 'image.qcow2']],
    [['check', '-f', '', 'image.qcow2']],
    [['check', '']],
    [['check', '123']],
    [['check', '0x10']],
    [['check', '-f', 'qcow2', '--no-output', 'image.qcow2']],
  ])('%j: left to yargs', (args) => {
    expect(plainCheckArgs(args)).toBeUndefined();
  });

  it('leaves to yargs every argument list it rejects among the variations of a plain one', async () => {
    // Each plain list with one token dropped, doubled or swapped with its neighbour.
    const base = ['check', '-f', 'qcow2', '-r', 'leaks', '--output', 'json', 'image.qcow2'];
    const variations: string[][] = [];
    for (let i = 1; i < base.length; i++) {
      variations.push(base.filter((_, k) => k !== i));
      variations.push([...base.slice(0, i + 1), ...base.slice(i)]);
      if (i + 1 < base.length) {
        const swapped = [...base];
        [swapped[i], swapped[i + 1]] = [swapped[i + 1] as string, swapped[i] as string];
        variations.push(swapped);
      }
    }
    for (const args of variations) {
      const plain = plainCheckArgs(args);
      const parsed = await yargsCheckOptions(args);
      if ('error' in parsed) expect(plain, JSON.stringify(args)).toBeUndefined();
      else if (plain) expect(plain, JSON.stringify(args)).toEqual(parsed);
    }
  });
});
