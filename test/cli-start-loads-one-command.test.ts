import { describe, expect, it } from 'vitest';
import * as check from '../src/cli/commands/check.ts';
import { COMMAND_NAMES } from '../src/cli/commands/command-info.ts';
import { COMMANDS } from '../src/cli/commands/index.ts';
import { commandsFor, commandWord } from '../src/cli/start.ts';

/** Loaded modules have a builder; stubs (usage and description only) do not. */
const loaded = (commands: Awaited<ReturnType<typeof commandsFor>>) =>
  commands.filter((c) => c.builder !== undefined).map((c) => c.command);

/**
 * bin/qedlab.js's start (src/cli/start.ts) loads only the module of the command it runs, listing
 * the others by usage and description, in the same order as the fully loaded CLI.
 */
describe('the CLI start loads one command', () => {
  it('finds the command word past options', () => {
    expect(commandWord(['--help'])).toBeUndefined();
    expect(commandWord(['-h', 'check', '-f', 'qed', 'x'])).toBe('check');
    expect(commandWord(['--', 'io'])).toBe('io');
  });

  it('loads the named command only; the others are stubs in --help order', async () => {
    const commands = await commandsFor(['check', '-f', 'qed', 'image.qed']);
    expect(commands.map((c) => c.command)).toEqual(COMMANDS.map((c) => c.command));
    expect(commands.map((c) => c.describe)).toEqual(COMMANDS.map((c) => c.describe));
    expect(loaded(commands)).toEqual([check.command]);
    expect(commands.find((c) => c.command === check.command)?.handler).toBe(check.handler);
    const stub = commands.find((c) => c.command !== check.command);
    expect(() => stub?.handler({ _: [], $0: 'qedlab' })).toThrow(/ran without its module/);
  });

  it('loads none without a command word, all of them for an unknown one', async () => {
    expect(loaded(await commandsFor(['--version']))).toEqual([]);
    expect(loaded(await commandsFor(['chek', 'x']))).toHaveLength(COMMAND_NAMES.length);
  });
});
