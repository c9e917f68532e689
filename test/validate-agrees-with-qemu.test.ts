import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { describeWithQemu } from './helpers/qemu.ts';
import { makeTempDir, runLabCli } from './helpers/qemu-compare.ts';

// `qedlab validate` runs a script through qemu-io (under strace) and the lab and reports
// agreement of image bytes, map layouts and host I/O — and the first difference when they differ.
describeWithQemu('qedlab validate', () => {
  const script = [
    'write -P 0xaa 0 4k',
    'write -P 0xbb 64k 4k',
    'flush',
    'write -z 128k 64k',
    'write -P 0x11 2G 64k',
    'discard 0 64k',
    'write -P 0x22 4k 4k',
  ];

  it.each(['qed', 'qcow2'])('%s: images, maps and host I/O agree', (format) => {
    const dir = makeTempDir('qedlab-validate-');
    const scriptPath = path.join(dir, 'script');
    fs.writeFileSync(scriptPath, `${script.join('\n')}\n`);
    const r = runLabCli([
      'validate',
      '-f',
      format,
      '--script',
      scriptPath,
      '--size',
      '4G',
      '--dir',
      path.join(dir, 'run'),
    ]);
    expect(r.stdout).toContain('image bytes: agree');
    expect(r.stdout).toContain('map layout: agree');
    expect(r.stdout).toMatch(/host I\/O \(qemu (\d+) ops, lab \1 ops\): agree/);
    expect(r.status).toBe(0);
  });
});
