import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { openImageFile } from '../src/cli/image-file.ts';
import { applyCommand, labOpen } from './helpers/qcow2-lab.ts';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir, qemuIoRun } from './helpers/qemu-compare.ts';
import { randomQemuIoScript } from './helpers/random-qemu-io-script.ts';

const SIZE = 64 * 1024 * 1024;

function toRaw(image: string, raw: string): Uint8Array {
  expect(spawnSync('qemu-img', ['convert', '-O', 'raw', image, raw]).status).toBe(0);
  return fs.readFileSync(raw);
}

describeWithQemu('qcow2: images QEMU wrote read back identically through the lab', () => {
  it('random writes, zero writes and a snapshot', () => {
    const dir = makeTempDir('qcow2-read-');
    const file = path.join(dir, 'q.qcow2');
    spawnSync('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-o',
      'cluster_size=4096',
      file,
      String(SIZE),
    ]);
    const script = randomQemuIoScript({
      seed: 11,
      sizeBytes: SIZE,
      clusterSizeBytes: 4096,
      l2CoverageBytes: 4096 * 512,
      count: 80,
    });
    qemuIoRun(file, 'qcow2', script.commands.slice(0, 40));
    spawnSync('qemu-img', ['snapshot', '-c', 'mid', file]);
    qemuIoRun(file, 'qcow2', script.commands.slice(40));
    const expected = toRaw(file, path.join(dir, 'q.raw'));
    const lab = labOpen(file, { readOnly: true });
    expect(Buffer.compare(Buffer.from(lab.image.read(0, SIZE)), expected)).toBe(0);
    lab.abort();
  });

  it('compressed clusters (qemu-img convert -c)', () => {
    const dir = makeTempDir('qcow2-read-');
    const raw = path.join(dir, 'src.raw');
    const bytes = new Uint8Array(4 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) % 251 < 40 ? (i >> 9) & 0xff : 0;
    fs.writeFileSync(raw, bytes);
    const file = path.join(dir, 'c.qcow2');
    expect(
      spawnSync('qemu-img', ['convert', '-c', '-f', 'raw', '-O', 'qcow2', raw, file]).status,
    ).toBe(0);
    const lab = labOpen(file, { readOnly: true });
    expect(Buffer.compare(Buffer.from(lab.image.read(0, bytes.length)), Buffer.from(bytes))).toBe(
      0,
    );
    const check = lab.image.check?.('none');
    lab.abort();
    expect(check?.compressedClusters).toBeGreaterThan(0);
    expect(check?.corruptions).toBe(0);
  });

  it('an overlay over a raw backing file: COW reads and partial writes', () => {
    const dir = makeTempDir('qcow2-read-');
    const base = path.join(dir, 'base.raw');
    const pattern = new Uint8Array(SIZE);
    for (let i = 0; i < SIZE; i += 512) pattern.fill((i >> 9) & 0xff, i, i + 512);
    fs.writeFileSync(base, pattern);
    const overlay = path.join(dir, 'overlay.qcow2');
    spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', overlay]);
    const labOverlay = path.join(dir, 'lab-overlay.qcow2');
    fs.copyFileSync(overlay, labOverlay);
    const commands = [
      'write -P 0xaa 4k 4k',
      'write -P 0xbb 70k 2k',
      'write -z 1m 64k',
      'discard 2m 64k',
    ];
    qemuIoRun(overlay, 'qcow2', commands);
    const opened = openImageFile(labOverlay, { format: 'qcow2' });
    for (const c of commands) applyCommand(opened.image, c);
    opened.image.close();
    opened.release();
    expect(
      Buffer.compare(
        toRaw(labOverlay, path.join(dir, 'l.raw')),
        toRaw(overlay, path.join(dir, 'q.raw')),
      ),
    ).toBe(0);
    expect(Buffer.compare(fs.readFileSync(labOverlay), fs.readFileSync(overlay))).toBe(0);
  });
});
