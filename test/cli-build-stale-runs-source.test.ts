import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBuild, MANIFEST_NAME } from '../bin/cli-build.js';
import { makeProjectCopy, type ProjectCopy } from './helpers/cli-build-copy.ts';

const DESCRIBE_CHECK = 'check (and repair) an image (like qemu-img check)';

/** Replaces `from` by `to` in every file of the build that contains it; returns how many. */
function editBuild(buildDir: string, from: string, to: string): number {
  let edited = 0;
  for (const name of fs.readdirSync(buildDir).filter((n) => n.endsWith('.js'))) {
    const file = path.join(buildDir, name);
    const text = fs.readFileSync(file, 'utf8');
    if (text.includes(from)) {
      fs.writeFileSync(file, text.replaceAll(from, to));
      edited++;
    }
  }
  return edited;
}

/**
 * bin/qedlab.js runs the build only while every file it was built from is unchanged; a source
 * edited (or merely touched), or gone, or a missing manifest sends it back to the sources, so a
 * stale build never runs old code.
 */
describe('a stale CLI build is not run', () => {
  let copy: ProjectCopy;
  let commandInfo: string;
  beforeAll(() => {
    copy = makeProjectCopy();
    copy.build();
    commandInfo = path.join(copy.root, 'src/cli/commands/command-info.ts');
  }, 120_000);
  afterAll(() => copy?.remove());

  it('runs the fresh build (seen by editing the built code), then the edited source', () => {
    // Mark the build so its output can be told from the sources'.
    expect(editBuild(copy.buildDir, DESCRIBE_CHECK, 'BUILT MARKER')).toBe(1);
    expect(checkBuild(copy.buildDir)).toHaveProperty('entryUrl');
    const fromBuild = copy.bin(['--help']);
    expect(fromBuild.status).toBe(0);
    expect(fromBuild.stdout).toContain('BUILT MARKER');

    const source = fs.readFileSync(commandInfo, 'utf8');
    fs.writeFileSync(commandInfo, source.replace(DESCRIBE_CHECK, 'SOURCE MARKER, edited'));
    expect(checkBuild(copy.buildDir)).toEqual({
      stale: 'src/cli/commands/command-info.ts changed since the build',
    });
    const fromSource = copy.bin(['--help']);
    expect(fromSource.status).toBe(0);
    expect(fromSource.stdout).toContain('SOURCE MARKER, edited');
    expect(fromSource.stdout).not.toContain('BUILT MARKER');

    // Rebuilding makes the build fresh again, with the edit.
    copy.build();
    expect(checkBuild(copy.buildDir)).toHaveProperty('entryUrl');
    expect(editBuild(copy.buildDir, 'SOURCE MARKER, edited', 'REBUILT MARKER')).toBe(1);
    expect(copy.bin(['--help']).stdout).toContain('REBUILT MARKER');
    fs.writeFileSync(commandInfo, source);
  }, 120_000);

  it('a touched source, a deleted source or a missing manifest also make it stale', () => {
    copy.build();
    expect(checkBuild(copy.buildDir)).toHaveProperty('entryUrl');
    const errors = path.join(copy.root, 'src/util/errors.ts');
    const stat = fs.statSync(errors);
    // Same content, one second newer: stale (an edit that kept the size, or a checkout).
    fs.utimesSync(errors, stat.atime, new Date(stat.mtimeMs + 1000));
    expect(checkBuild(copy.buildDir)).toEqual({
      stale: 'src/util/errors.ts changed since the build',
    });
    copy.build();
    expect(checkBuild(copy.buildDir)).toHaveProperty('entryUrl');

    const qemuJson = path.join(copy.root, 'src/cli/qemu-json.ts');
    const saved = fs.readFileSync(qemuJson);
    fs.rmSync(qemuJson);
    expect(checkBuild(copy.buildDir)).toEqual({ stale: 'src/cli/qemu-json.ts is gone' });
    fs.writeFileSync(qemuJson, saved);

    fs.rmSync(path.join(copy.buildDir, MANIFEST_NAME));
    expect(checkBuild(copy.buildDir)).toEqual({
      stale: 'no build (missing or unreadable manifest)',
    });
    // With no usable build, bin/qedlab.js still works (from the sources).
    const r = copy.bin(['--version']);
    expect(r).toMatchObject({ status: 0, stdout: '0.1.0\n' });
  }, 120_000);

  it('the manifest lists the sources, the dependencies the build bundled and its settings', () => {
    copy.build();
    const manifest = JSON.parse(
      fs.readFileSync(path.join(copy.buildDir, MANIFEST_NAME), 'utf8'),
    ) as { inputs: [string, number, number][] };
    const inputs = manifest.inputs.map(([file]) => file);
    expect(inputs).toContain('src/cli/start.ts');
    expect(inputs).toContain('src/formats/qed/check.ts');
    expect(inputs).toContain('scripts/build-cli.js');
    expect(inputs).toContain('tsconfig.json');
    expect(inputs.some((file) => file.includes('node_modules/yargs/'))).toBe(true);
  }, 120_000);
});
