import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inputPath, PROJECT_ROOT } from '../bin/cli-build.js';

/**
 * The freshness test resolves the manifest's input paths (path.relative's output) without
 * path.resolve: the same absolute path for every shape the build writes, dependencies reached
 * through `..` (a node_modules symlinked elsewhere) included.
 */
describe('CLI build inputs resolve as path.resolve does', () => {
  const roots = ['/work/wt/s5-check', '/', '/a', PROJECT_ROOT];
  const inputs = [
    'src/cli/start.ts',
    'package.json',
    '../../main/node_modules/yargs/build/lib/yargs-factory.js',
    '../x.js',
    '../../../../../deeper/than/root.js',
    'node_modules/.pnpm/a@1/node_modules/a/index.js',
  ];
  it.each(roots)('from %s', (root) => {
    for (const input of inputs) expect(inputPath(root, input)).toBe(path.resolve(root, input));
  });
});
