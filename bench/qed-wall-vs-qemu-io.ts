/**
 * Wall time of the same 10,000-write qemu-io script run by qemu-io 7.2 and by `qedlab io`, both on
 * real files (a default 1 TiB QED image, -t writeback so the figures are the engines', not the
 * disk's fdatasync). Prints the times and checks the two images came out byte-identical.
 *
 *   npx tsx bench/qed-wall-vs-qemu-io.ts [writes=10000] [seed=1]
 *
 * Wall-clock figures: they depend on the machine and its load, unlike the lab's simulated ones.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseQemuIoScript, QemuIoSession } from '../src/cli/qemu-io-script.ts';
import { SimClock } from '../src/device/clock.ts';
import { MemoryDevice } from '../src/device/memory-device.ts';
import { MeteredDevice } from '../src/device/metered-device.ts';
import { qedDriver } from '../src/formats/qed/qed-format.ts';
import { Rng } from '../src/util/rng.ts';

const writes = Number(process.argv[2] ?? 10000);
const seed = Number(process.argv[3] ?? 1);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qed-wall-'));
const rng = new Rng(seed);
const lines: string[] = [];
// Random 4 KiB writes over the first 64 GiB of a 1 TiB image: 32 L2 tables, all cached.
for (let i = 0; i < writes; i++) {
  const offset = rng.nextInt((64 * 2 ** 30) / 4096) * 4096;
  lines.push(`write -P 0x${(1 + (i % 255)).toString(16)} ${offset} 4k`);
}
const script = path.join(dir, 'script');
fs.writeFileSync(script, `${lines.join('\n')}\n`);
const template = path.join(dir, 'template.qed');
spawnSync('qemu-img', ['create', '-q', '-f', 'qed', template, '1T'], { stdio: 'inherit' });
const qemuImage = path.join(dir, 'qemu.qed');
const labImage = path.join(dir, 'lab.qed');
fs.copyFileSync(template, qemuImage);
fs.copyFileSync(template, labImage);

function timed(label: string, command: string, args: string[], input?: string): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(command, args, {
    input: input ?? '',
    stdio: ['pipe', 'ignore', 'inherit'],
    maxBuffer: 1 << 30,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`${label} failed (${r.status})`);
  console.log(`${label.padEnd(44)} ${seconds.toFixed(2)} s`);
  return seconds;
}

console.log(
  `${writes} random 4 KiB writes, default 1 TiB QED image, -t writeback, real files in ${dir}`,
);
const qemu = timed(
  'qemu-io -t writeback (script on stdin)',
  'qemu-io',
  ['-t', 'writeback', '-f', 'qed', qemuImage],
  fs.readFileSync(script, 'utf8'),
);
const lab = timed(
  'qedlab io -t writeback --script (incl. tsx start)',
  path.resolve('bin/qedlab.js'),
  ['io', '-q', '-f', 'qed', '-t', 'writeback', '--script', script, labImage],
);
const startup = timed(
  'qedlab io with an empty script (tsx start only)',
  path.resolve('bin/qedlab.js'),
  ['io', '-q', '-f', 'qed', '-t', 'writeback', '-c', 'flush', template],
);
// The same script in-process on a MemoryDevice (how the simulation runs it): no start-up, no syscalls.
{
  const clock = new SimClock();
  const memory = MemoryDevice.fromBytes(new Uint8Array(fs.readFileSync(template)));
  const image = qedDriver.open({
    device: new MeteredDevice(memory, { clock }),
    readOnly: false,
    forCheck: false,
    clock,
  });
  const commands = parseQemuIoScript(fs.readFileSync(script, 'utf8'));
  const start = process.hrtime.bigint();
  new QemuIoSession(image, clock, { writethrough: false }).runAll(commands);
  image.close();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${'lab in-process on a MemoryDevice'.padEnd(44)} ${seconds.toFixed(2)} s`);
  const same = Buffer.from(memory.toBytes()).equals(fs.readFileSync(qemuImage));
  console.log(`MemoryDevice image identical to qemu-io's: ${same}`);
}
const same = fs.readFileSync(qemuImage).equals(fs.readFileSync(labImage));
console.log(`images byte-identical: ${same}`);
console.log(
  `lab minus start-up: ${(lab - startup).toFixed(2)} s; qemu-io/lab ratio ${(qemu / (lab - startup)).toFixed(1)}x`,
);
fs.rmSync(dir, { recursive: true, force: true });
if (!same) process.exitCode = 1;
