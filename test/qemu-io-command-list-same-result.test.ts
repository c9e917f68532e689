import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IO_OP_WRITE, QemuIoCommandList } from '../src/cli/qemu-io-command-list.ts';
import {
  parseQemuIoCommandGeneral,
  parseQemuIoScript,
  parseQemuIoScriptList,
  type QemuIoCommand,
  QemuIoSession,
} from '../src/cli/qemu-io-script.ts';
import { SimClock } from '../src/device/clock.ts';
import { createCostModel } from '../src/device/cost-models.ts';
import { formatIoRecord } from '../src/device/io-log.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { qcow2Driver } from '../src/formats/qcow2/qcow2-format.ts';
import { qedDriver } from '../src/formats/qed/qed-format.ts';
import { rawDriver } from '../src/formats/raw/raw-format.ts';
import type { FormatDriver } from '../src/formats/types.ts';
import { Rng } from '../src/util/rng.ts';

const MiB = 2 ** 20;

/** Every form the lab's qemu-io language has, spelled the ways scripts spell it. */
const VARIED_LINES = [
  'write -P 0x5a 0 4k',
  'write -P 0xAA 64k 64k',
  'write -P 0X7 1M 512',
  'write -P 7 2M 4096',
  'write -P 255 3m 1k',
  'write -P 017 12k 4k',
  'write 5M 512b',
  'write -q -P 0x11 4K 8K',
  'write -P 0x12 -q 40k 4k',
  'write 44k -P 0x13 512',
  'write -z 1M 64k',
  'write -q -z 192k 128k',
  'write -z -u 2M 64k',
  'write -u -z 6M 4k',
  'write -z 0x10000 4k',
  'write -P 0x22 0x20000 0x1000',
  '  write   -P 0x33   7M   4k  ',
  'write\t-P 0x44 300k 4k',
  'write -P 0x45 304k 4k\r',
  'read -P 0x5a 0 4k',
  'read -P 0x11 4K 8K',
  'read -q 1M 64k',
  'read 0 512',
  'read -P 0 1M 64k',
  'discard 2M 64k',
  'discard -q 6M 4k',
  'discard 0x400000 0x10000',
  'flush',
  '  flush  ',
  'sleep 7000',
  'sleep 0',
  '# a comment',
  '   # indented comment',
  '',
  '   ',
  'abort',
];

/** Lines the parser must reject, with the general parser's messages. */
const BAD_LINES = [
  'write 0',
  'write -P 300 0 512',
  'write -P 0x100 0 512',
  'write -z -P 1 0 512',
  'write -u 0 512',
  'write -c 0 512',
  'write 0 4k 8k',
  'write 4q 4k',
  'write 0 16E',
  'read -z 0 512',
  'discard -P 1 0 512',
  'sleep soon',
  'frobnicate 0 1',
  'writ 0 512',
];

function outcome(parse: () => unknown): unknown {
  try {
    return { value: parse() };
  } catch (error) {
    return { error: (error as Error).message, name: (error as Error).name };
  }
}

/** The reference: every line through the general parser, in order, the first bad one throwing. */
function parseGenerally(text: string): QemuIoCommand[] {
  const commands: QemuIoCommand[] = [];
  for (const line of text.split('\n')) {
    const command = parseQemuIoCommandGeneral(line);
    if (command) commands.push(command);
  }
  return commands;
}

/** One image on the simulation stack, with everything a run can show: log, bytes, time, output. */
function simulate(
  driver: FormatDriver,
  writethrough: boolean,
  run: (session: QemuIoSession) => unknown,
): unknown {
  const memory = new MemoryDevice();
  driver.create({ device: memory, sizeBytes: 8 * MiB, options: {} });
  const clock = new SimClock();
  const log: string[] = [];
  const device = new MeteredDevice(memory, {
    clock,
    costModel: createCostModel('hdd'),
    log: (record) => log.push(formatIoRecord(record)),
  });
  const image = driver.open({ device, readOnly: false, forCheck: false, clock });
  const printed: string[] = [];
  const session = new QemuIoSession(image, clock, {
    writethrough,
    print: (line) => printed.push(line),
  });
  const result = outcome(() => run(session));
  if (!session.aborted) image.close();
  // A digest: vitest compares megabytes of typed array element by element, slowly.
  const bytes = memory.toBytes();
  const digest = createHash('sha256').update(bytes).digest('hex');
  return { result, printed, log, nowNs: clock.nowNs(), sizeBytes: bytes.length, digest };
}

/**
 * The compact command list (typed-array columns, what `qedlab io --script` parses into and runs)
 * against the general parser's command objects: same commands, same errors, and run through a
 * session, the same host I/O, bytes, simulated time and output.
 */
describe('qemu-io command list', () => {
  it('holds the same commands as the general parser gives for every line form', () => {
    const text = VARIED_LINES.join('\n');
    const expected = parseGenerally(text);
    expect(expected.length).toBe(VARIED_LINES.length - 4);
    const list = parseQemuIoScriptList(text);
    expect(list.length).toBe(expected.length);
    expect(list.toArray()).toEqual(expected);
    expect(parseQemuIoScript(text)).toEqual(expected);
    // Pushed command objects round-trip too (the `-c` commands of `qedlab io` go in this way).
    const pushed = new QemuIoCommandList(1);
    for (const command of expected) pushed.push(command);
    expect(pushed.toArray()).toEqual(expected);
    expect(pushed.op(0)).toBe(IO_OP_WRITE);
    expect(pushed.offsetBytes(1)).toBe(64 * 1024);
    expect(pushed.pattern(1)).toBe(0xaa);
  });

  it('rejects each bad line with the general parser’s error, wherever it sits in a script', () => {
    for (const bad of BAD_LINES) {
      for (const at of [0, 7, VARIED_LINES.length]) {
        const lines = [...VARIED_LINES];
        lines.splice(at, 0, bad);
        const text = lines.join('\n');
        const expected = outcome(() => parseGenerally(text));
        expect(expected, bad).toHaveProperty('error');
        expect(
          outcome(() => parseQemuIoScriptList(text).toArray()),
          bad,
        ).toEqual(expected);
      }
    }
  });

  it('agrees with the general parser on random scripts, bad lines included', () => {
    const rng = new Rng(20261124);
    const pick = <T>(list: readonly T[]): T => list[rng.nextInt(list.length)] as T;
    let failed = 0;
    for (let script = 0; script < 200; script++) {
      const lines: string[] = [];
      const count = 1 + rng.nextInt(60);
      for (let i = 0; i < count; i++) {
        lines.push(rng.nextInt(100) === 0 ? pick(BAD_LINES) : pick(VARIED_LINES));
      }
      const text = lines.join('\n');
      const expected = outcome(() => parseGenerally(text));
      if ('error' in (expected as object)) failed++;
      expect(outcome(() => parseQemuIoScriptList(text).toArray())).toEqual(expected);
    }
    // Both outcomes were exercised.
    expect(failed).toBeGreaterThan(10);
    expect(failed).toBeLessThan(190);
  });

  for (const [name, driver] of [
    ['qed', qedDriver],
    ['qcow2', qcow2Driver],
    ['raw', rawDriver],
  ] as const) {
    for (const writethrough of [false, true]) {
      it(`runs to the same host I/O, bytes, time and output: ${name}, writethrough ${writethrough}`, () => {
        // Everything but `abort`, so the close runs too; then a failing `read -P` at the end.
        const lines = VARIED_LINES.filter((line) => line !== 'abort');
        lines.push('read -P 0x77 0 4k', 'write -P 0x78 0 4k');
        const text = lines.join('\n');
        const expected = simulate(driver, writethrough, (session) =>
          session.runAll(parseGenerally(text)),
        );
        expect((expected as { result: unknown }).result).toMatchObject({
          name: 'PatternMismatchError',
        });
        expect((expected as { log: string[] }).log.length).toBeGreaterThan(20);
        expect(
          simulate(driver, writethrough, (session) => session.runList(parseQemuIoScriptList(text))),
        ).toEqual(expected);
      });
    }
  }

  it('stops at abort like the command objects do', () => {
    const text = 'write -P 1 0 4k\nabort\nwrite -P 2 4k 4k\n';
    const expected = simulate(qedDriver, false, (session) => session.runAll(parseGenerally(text)));
    expect((expected as { result: unknown }).result).toEqual({ value: false });
    expect(
      simulate(qedDriver, false, (session) => session.runList(parseQemuIoScriptList(text))),
    ).toEqual(expected);
  });
});
