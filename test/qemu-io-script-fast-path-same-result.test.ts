import { describe, expect, it } from 'vitest';
import {
  NOT_SIMPLE,
  parseQemuIoCommand,
  parseQemuIoCommandFast,
  parseQemuIoCommandGeneral,
  parseQemuIoScript,
} from '../src/cli/qemu-io-script.ts';
import { Rng } from '../src/util/rng.ts';

/** The outcome of parsing one line: the command (or undefined) or the error's message. */
function outcome(parse: () => unknown): unknown {
  try {
    return { value: parse() };
  } catch (error) {
    return { error: (error as Error).message, name: (error as Error).name };
  }
}

const WORDS = [
  'write',
  'read',
  'discard',
  'flush',
  'abort',
  'sleep',
  'frobnicate',
  '#',
  '#write',
  '-P',
  '-q',
  '-z',
  '-u',
  '-zu',
  '-c',
  '-Pq',
  '-',
  '--',
  '0',
  '512',
  '4k',
  '4K',
  '64k',
  '1M',
  '2G',
  '1T',
  '16E',
  '8P',
  '9007199254740992',
  '4kb',
  '4KiB',
  '1.5k',
  '0x10000',
  '0X1F',
  '0xg',
  '0x',
  '0xaa',
  '0xAA',
  '0x100',
  '255',
  '256',
  '017',
  '1e2',
  '-1',
  'k',
  '12Q',
  '999999999999999k',
  '1000000000000000',
  'abc',
];
const SEPARATORS = [' ', ' ', ' ', '  ', '\t', ' \r'];

/** Lines in the shape of real scripts, and random word salad around them. */
function randomLine(rng: Rng): string {
  const pick = <T>(list: readonly T[]): T => list[rng.nextInt(list.length)] as T;
  const count = rng.nextInt(7);
  const words: string[] = [];
  if (rng.nextInt(2) === 0) words.push(pick(['write', 'read', 'discard']));
  for (let i = 0; i < count; i++) words.push(pick(WORDS));
  let line = rng.nextInt(8) === 0 ? pick(SEPARATORS) : '';
  for (const [i, word] of words.entries()) line += (i > 0 ? pick(SEPARATORS) : '') + word;
  return line + (rng.nextInt(8) === 0 ? pick(SEPARATORS) : '');
}

/**
 * The fast path of the qemu-io script parser (the common write/read/discard/flush/abort lines,
 * parsed in place) against the general parser it shortcuts: same commands, same errors.
 */
describe('qemu-io script parser fast path', () => {
  it('parses the common lines itself, to the same commands as the general parser', () => {
    const lines = [
      'write -P 0x5a 2147483648 4k',
      'write -P 0xAA 0 64k',
      'write -P 7 4096 512',
      'write 0 512',
      'write -q -z 1M 2M',
      'write -z -u 0 64k',
      '  read -P 17 2G 512  ',
      'read 0 4k',
      'discard 8k 4k',
      'discard -q 0 1T',
      'flush',
      'abort',
      '',
      '    ',
    ];
    for (const line of lines) {
      const fast = parseQemuIoCommandFast(line);
      expect(fast, line).not.toBe(NOT_SIMPLE);
      expect(fast, line).toEqual(parseQemuIoCommandGeneral(line));
    }
  });

  it('leaves everything else to the general parser, errors included', () => {
    for (const line of ['# note', 'sleep 10', 'write\t0 4k', 'write 0x1000 4k', 'write 0 4k\r']) {
      expect(parseQemuIoCommandFast(line), line).toBe(NOT_SIMPLE);
    }
    expect(() => parseQemuIoCommand('write -P 300 0 512')).toThrow(/invalid pattern '300'/);
    expect(() => parseQemuIoCommand('write -z -P 1 0 512')).toThrow(/cannot be combined/);
  });

  it('agrees with the general parser on 20,000 random lines, commands and errors alike', () => {
    const rng = new Rng(20261124);
    let handledByFastPath = 0;
    for (let i = 0; i < 20_000; i++) {
      const line = randomLine(rng);
      if (parseQemuIoCommandFast(line) !== NOT_SIMPLE) handledByFastPath++;
      expect(
        outcome(() => parseQemuIoCommand(line)),
        JSON.stringify(line),
      ).toEqual(outcome(() => parseQemuIoCommandGeneral(line)));
    }
    // Both paths were exercised.
    expect(handledByFastPath).toBeGreaterThan(1000);
    expect(handledByFastPath).toBeLessThan(19_000);
  });

  it('a script parses to what its lines parse to, one by one, and stops at the first bad line', () => {
    const rng = new Rng(9);
    const lines: string[] = [];
    for (let i = 0; i < 2000; i++) {
      lines.push(
        rng.nextInt(10) === 0
          ? randomLine(rng).replace(/\r/g, '')
          : `write -P 0x${(1 + (i % 255)).toString(16)} ${rng.nextInt(2 ** 28) * 4096} 4k`,
      );
    }
    const text = `${lines.join('\n')}\n`;
    const expected = outcome(() => {
      const commands = [];
      for (const line of text.split('\n')) {
        const command = parseQemuIoCommandGeneral(line);
        if (command) commands.push(command);
      }
      return commands;
    });
    expect(outcome(() => parseQemuIoScript(text))).toEqual(expected);
    const good = lines.filter(
      (line) => !('error' in (outcome(() => parseQemuIoCommandGeneral(line)) as object)),
    );
    const commands = parseQemuIoScript(good.join('\n'));
    expect(commands.length).toBeGreaterThan(1700);
    expect(commands).toEqual(
      good.map((line) => parseQemuIoCommandGeneral(line)).filter((c) => c !== undefined),
    );
  });
});
