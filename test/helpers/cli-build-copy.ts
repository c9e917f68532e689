/**
 * A throw-away copy of the project (bin, scripts, src, workloads, package.json, tsconfig.json;
 * node_modules linked) in which the CLI build can be made, edited and made stale without
 * touching the real sources or the real dist/.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '../..');

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

export interface ProjectCopy {
  root: string;
  buildDir: string;
  /** `npm run build` in the copy; throws with its output if it fails. */
  build(): void;
  /** `node bin/qedlab.js ARGS` in `cwd` (default: the copy's root), optionally with extra env. */
  bin(args: readonly string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }): CliRun;
  /** `node --import tsx src/cli/main.ts ARGS`: every command loaded, as the tests run it. */
  fullSource(args: readonly string[], options?: { cwd?: string }): CliRun;
  remove(): void;
}

function run(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): CliRun {
  const r = spawnSync(process.execPath, [...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, QEDLAB_FROM_SOURCE: '', ...env },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function makeProjectCopy(): ProjectCopy {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'qedlab-cli-build-'));
  for (const entry of ['bin', 'scripts', 'src', 'workloads', 'package.json', 'tsconfig.json']) {
    fs.cpSync(path.join(REPO, entry), path.join(root, entry), { recursive: true });
  }
  fs.symlinkSync(fs.realpathSync(path.join(REPO, 'node_modules')), path.join(root, 'node_modules'));
  const buildDir = path.join(root, 'dist', 'cli');
  return {
    root,
    buildDir,
    build() {
      const r = run(['scripts/build-cli.js', '--strict'], root);
      if (r.status !== 0) throw new Error(`CLI build failed:\n${r.stdout}${r.stderr}`);
    },
    bin(args, options = {}) {
      return run([path.join(root, 'bin/qedlab.js'), ...args], options.cwd ?? root, options.env);
    },
    fullSource(args, options = {}) {
      return run(
        ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), ...args],
        options.cwd ?? root,
      );
    },
    remove() {
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
