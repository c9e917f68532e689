// The precompiled CLI (dist/cli, built by `npm run build`, which `npm install` and `npm ci` run
// through `prepare`) and the test that says whether it may run: it may only while every file it
// was built from is exactly as it was (same mtime, same size, still there). A source edited after
// the build, a dependency reinstalled, or a half-written build (no manifest yet) sends bin/qedlab.js
// back to the TypeScript sources through tsx, so a stale build never runs old code.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The project root (the directory holding package.json). */
export const PROJECT_ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** Where the build goes; at the same depth as src/, which the build's relative URLs rely on. */
export const BUILD_DIR = path.join(PROJECT_ROOT, 'dist', 'cli');

/** Written last by the build; its absence means "no usable build". */
export const MANIFEST_NAME = 'build-manifest.json';

export const MANIFEST_FORMAT = 1;

/**
 * `path.resolve(root, relativePath)` for a path the build wrote with path.relative (normalized,
 * `..` segments only at its start), by string operations: path.resolve on each of the ~230
 * inputs cost about 5 ms of every CLI start.
 * @param {string} root an absolute, normalized directory
 * @param {string} relativePath
 */
export function inputPath(root, relativePath) {
  if (path.sep !== '/' || path.isAbsolute(relativePath)) return path.resolve(root, relativePath);
  let base = root;
  let rest = relativePath;
  while (rest.startsWith('../')) {
    base = path.dirname(base);
    rest = rest.slice(3);
  }
  return base === '/' ? `/${rest}` : `${base}/${rest}`;
}

/**
 * The entry module's file URL if the build in `buildDir` is complete and every input it lists is
 * unchanged; otherwise undefined (with the reason, for tests and `npm run build -- --check`).
 * @param {string} [buildDir]
 * @returns {{ entryUrl: string } | { stale: string }}
 */
export function checkBuild(buildDir = BUILD_DIR) {
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(buildDir, MANIFEST_NAME), 'utf8'));
  } catch {
    return { stale: 'no build (missing or unreadable manifest)' };
  }
  if (manifest?.format !== MANIFEST_FORMAT || !Array.isArray(manifest.inputs)) {
    return { stale: 'manifest of another format' };
  }
  const root = path.resolve(buildDir, manifest.root);
  for (const [relativePath, mtimeMs, sizeBytes] of manifest.inputs) {
    const stat = fs.statSync(inputPath(root, relativePath), { throwIfNoEntry: false });
    if (!stat) return { stale: `${relativePath} is gone` };
    if (stat.mtimeMs !== mtimeMs || stat.size !== sizeBytes) {
      return { stale: `${relativePath} changed since the build` };
    }
  }
  return { entryUrl: pathToFileURL(path.join(buildDir, manifest.entry)).href };
}
