import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { plainCheckArgs } from '../src/cli/plain-check-args.ts';
import { makeTempDir, runLabCli } from './helpers/qemu-compare.ts';

const REPO = path.resolve(import.meta.dirname, '..');
/** tsx's loader by URL: the runs' working directory has no node_modules to resolve it from. */
const TSX = pathToFileURL(path.join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  /** SHA-256 of the image's bytes after the run. */
  image: string | undefined;
}

/** `node NODE_ARGS ARGS` in `cwd`, and what became of the image there. */
function run(nodeArgs: string[], args: string[], cwd: string, image: string): Run {
  const r = spawnSync(process.execPath, [...nodeArgs, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, QEDLAB_FROM_SOURCE: '1' },
  });
  const file = path.join(cwd, image);
  const bytes = fs.existsSync(file)
    ? createHash('sha256').update(fs.readFileSync(file)).digest('hex')
    : undefined;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, image: bytes };
}

function patch(file: string, offset: number, bytes: number[]): void {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Uint8Array.from(bytes), 0, bytes.length, offset);
  fs.closeSync(fd);
}

/** 1 GiB qcow2 after `write 0 128k`: refblock at 0x20000, L2 at 0x40000, data clusters 5, 6. */
const REFBLOCK = 0x20000;
const L2 = 0x40000;
const IMAGES: Record<string, (file: string) => void> = {
  'clean.qcow2': () => {},
  // L2[1] cleared: data cluster 6 keeps its refcount, referenced by nothing
  'leak.qcow2': (f) => patch(f, L2 + 8, [0, 0, 0, 0, 0, 0, 0, 0]),
  // data cluster 5 referenced with refcount 0
  'corrupt.qcow2': (f) => patch(f, REFBLOCK + 5 * 2, [0, 0]),
};

/**
 * bin/qedlab.js runs `check` in plain arguments without loading yargs (src/cli/start.ts): same
 * output, exit code and image bytes (repairs included) as the check through the yargs parser
 * (src/cli/main.ts, every command loaded), on clean, leaking and corrupt images and on errors.
 */
describe('check without the parser', () => {
  const dir = makeTempDir('qedlab-plain-check-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const template = path.join(dir, 'template.qcow2');
  runLabCli(['create', '-f', 'qcow2', template, '1G']);
  runLabCli(['io', '-f', 'qcow2', '-c', 'write -P 7 0 128k', template]);
  const qed = path.join(dir, 'template.qed');
  runLabCli(['create', '-f', 'qed', qed, '1G']);
  runLabCli(['io', '-f', 'qed', '-c', 'write -P 7 0 128k', qed]);

  it.each([
    ['clean.qcow2', ['-f', 'qcow2']],
    ['clean.qcow2', ['--output=json']],
    ['leak.qcow2', ['-f', 'qcow2']],
    ['leak.qcow2', ['--output', 'json', '-f', 'qcow2']],
    ['leak.qcow2', ['-r', 'leaks', '-f', 'qcow2']],
    ['corrupt.qcow2', ['-f', 'qcow2']],
    ['corrupt.qcow2', ['--repair=all', '--output=json']],
    ['clean.qcow2', ['-f', 'qed']],
    ['clean.qcow2', ['-f', 'raw']],
    ['clean.qcow2', ['-f', 'vmdk']],
    ['missing.qcow2', ['-f', 'qcow2']],
    ['clean.qed', []],
  ])(
    'check %s %j: same as through yargs',
    (image, options) => {
      const args = ['check', ...options, image];
      expect(plainCheckArgs(args)).toBeDefined();
      const runs: Run[] = [];
      // Both in the same directory, on a fresh copy each, so file names in the output agree.
      const cwd = path.join(dir, `${image}-${options.join('')}`);
      fs.mkdirSync(cwd);
      for (const mode of ['plain', 'yargs'] as const) {
        fs.rmSync(path.join(cwd, image), { force: true });
        const inject = IMAGES[image];
        if (inject) {
          fs.copyFileSync(template, path.join(cwd, image));
          inject(path.join(cwd, image));
        } else if (image.endsWith('.qed')) {
          fs.copyFileSync(qed, path.join(cwd, image));
        }
        const node =
          mode === 'plain'
            ? [path.join(REPO, 'bin/qedlab.js')]
            : ['--import', TSX, path.join(REPO, 'src/cli/main.ts')];
        runs.push(run(node, args, cwd, image));
      }
      expect(runs[0]).toEqual(runs[1]);
    },
    60_000,
  );

  it('covers every exit code of check', () => {
    // The cases above: 0 clean, 1 errors, 2 corruptions, 3 leaks, 63 no check for the format.
    const statuses = new Set<number | null>();
    for (const [image, options] of [
      ['clean.qcow2', []],
      ['corrupt.qcow2', []],
      ['leak.qcow2', []],
      ['clean.qcow2', ['-f', 'raw']],
      ['missing.qcow2', []],
    ] as const) {
      const cwd = path.join(dir, `codes-${statuses.size}-${image}`);
      fs.mkdirSync(cwd);
      const inject = IMAGES[image];
      if (inject) {
        fs.copyFileSync(template, path.join(cwd, image));
        inject(path.join(cwd, image));
      }
      statuses.add(
        run([path.join(REPO, 'bin/qedlab.js')], ['check', ...options, image], cwd, image).status,
      );
    }
    expect([...statuses].sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([0, 1, 2, 3, 63]);
  }, 60_000);
});
