import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { parseQemuIoScript, QemuIoSession } from '../src/cli/qemu-io-script.ts';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { rawDriver } from '../src/formats/raw/raw-format.ts';
import { makeTempDir, runLabCli } from './helpers/qemu-compare.ts';

/** What a session prints for `script` on a fresh 1 MiB raw image, line by line, unbuffered. */
function printedLineByLine(script: string): string {
  const memory = new MemoryDevice();
  rawDriver.create({ device: memory, sizeBytes: 2 ** 20, options: {} });
  const clock = new SimClock();
  const image = rawDriver.open({ device: memory, readOnly: false, forCheck: false, clock });
  let printed = '';
  const session = new QemuIoSession(image, clock, {
    writethrough: true,
    print: (line) => {
      printed += `${line}\n`;
    },
  });
  try {
    session.runAll(parseQemuIoScript(script));
  } catch {
    // The failing command prints nothing; what ran before it did.
  }
  return printed;
}

/**
 * `qedlab io` writes its qemu-io style report in chunks, not a write per line: the output is the
 * same lines in the same order, all of them there when a command fails part way.
 */
it('qedlab io prints every command’s report, in order, across output chunks and on failure', () => {
  const dir = makeTempDir();
  const file = path.join(dir, 'r.raw');
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const offset = (i * 4096) % 2 ** 20;
    lines.push(
      `write -P ${i % 256} ${offset} ${512 * (1 + (i % 8))}`,
      `read -P ${i % 256} ${offset} 512`,
    );
  }
  // A failing read two thirds in: the commands after it do not run, the ones before are reported.
  lines.splice(4000, 0, 'read -P 0x77 0 512');
  const text = `${lines.join('\n')}\n`;
  const script = path.join(dir, 's');
  fs.writeFileSync(script, text);
  expect(runLabCli(['create', '-f', 'raw', file, '1M']).status).toBe(0);
  const r = runLabCli(['io', '-f', 'raw', '--script', script, file]);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/^qedlab: Pattern verification failed at offset 0, 512 bytes/);
  const expected = printedLineByLine(text);
  // Longer than one 64 KiB chunk, and every line of it came out.
  expect(expected.length).toBeGreaterThan(4 * 64 * 1024);
  expect(expected.split('\n')).toHaveLength(2 * 4000 + 1);
  expect(r.stdout).toBe(expected);
});
