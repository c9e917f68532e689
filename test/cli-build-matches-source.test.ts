import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBuild } from '../bin/cli-build.js';
import { type CliRun, makeProjectCopy, type ProjectCopy } from './helpers/cli-build-copy.ts';

/**
 * The precompiled CLI (dist/cli, run by bin/qedlab.js) against the sources it was built from,
 * src/cli/main.ts through tsx with every command loaded (the build, like bin, loads only the
 * command it runs): the same output, errors, exit codes and image bytes.
 */
describe('the CLI build behaves as the sources', () => {
  let copy: ProjectCopy;
  beforeAll(() => {
    copy = makeProjectCopy();
    copy.build();
  }, 120_000);
  afterAll(() => copy?.remove());

  it('is fresh right after the build, so bin/qedlab.js runs it', () => {
    expect(checkBuild(copy.buildDir)).toEqual({
      entryUrl: `file://${path.join(copy.buildDir, 'main.js')}`,
    });
  });

  it.each([
    [[]],
    [['--version']],
    [['--help']],
    [['check', '--help']],
    [['bench', '--help']],
    [['chek', 'x.qed']],
    [['frobnicate']],
    [['check', 'missing.qed']],
    [['variants']],
  ])(
    'qedlab %j: same as the sources',
    (args) => {
      expect(copy.bin(args)).toEqual(copy.fullSource(args));
    },
    60_000,
  );

  it('create, io (script and -c), check and map on QED and qcow2 images: same output and bytes', () => {
    const results: Record<string, CliRun[]> = { build: [], source: [] };
    const images: Record<string, Buffer[]> = { build: [], source: [] };
    for (const mode of ['build', 'source'] as const) {
      const cwd = path.join(copy.root, `work-${mode}`);
      fs.mkdirSync(cwd);
      fs.writeFileSync(
        path.join(cwd, 'script.txt'),
        'write -P 0x5a 0 64k\nwrite -P 0x11 1G 4k\n# comment\nwrite -z 2G 64k\nflush\nread -P 0x5a 0 4k\n',
      );
      const cli = (args: string[]) =>
        mode === 'build' ? copy.bin(args, { cwd }) : copy.fullSource(args, { cwd });
      results[mode]?.push(
        cli(['create', '-f', 'qed', 't.qed', '4G']),
        cli(['io', '-f', 'qed', '--script', 'script.txt', 't.qed']),
        cli(['io', '-f', 'qed', '-c', 'write -P 0x7 8k 4k', '-c', 'read -P 0x8 8k 4k', 't.qed']),
        cli(['check', '-f', 'qed', 't.qed']),
        cli(['create', '-f', 'qcow2', 't.qcow2', '4G']),
        cli(['io', '-f', 'qcow2', '--script', 'script.txt', 't.qcow2']),
        cli(['check', '-f', 'qcow2', '--output=json', 't.qcow2']),
        cli(['map', '-f', 'qcow2', '--output=json', 't.qcow2']),
      );
      images[mode]?.push(
        fs.readFileSync(path.join(cwd, 't.qed')),
        fs.readFileSync(path.join(cwd, 't.qcow2')),
      );
    }
    expect(results.build).toEqual(results.source);
    expect(images.build).toEqual(images.source);
    // The runs did real work: a failed pattern check, a clean check.
    expect(results.build?.[2]?.status).not.toBe(0);
    expect(results.build?.[3]?.stdout).toContain('No errors were found on the image.');
  }, 120_000);
});
