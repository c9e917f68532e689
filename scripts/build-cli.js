#!/usr/bin/env node
// Builds the precompiled CLI: src/cli/start.ts and everything it imports, bundled by esbuild into
// dist/cli (one entry, one chunk per dynamically imported command module), so `qedlab` starts
// without tsx compiling ~140 TypeScript modules. bin/qedlab.js runs it only while it is fresh
// (bin/cli-build.js). Run by `prepare` (npm install / npm ci) and by `npm run build`.
//
//   node scripts/build-cli.js [--out DIR]   (DIR must sit at the depth of src/, e.g. dist/cli)
//
// Every module keeps its own import.meta.url: the build rewrites it to the URL of the module's
// source file, reached relative to the bundle, so paths computed from it (package.json, the
// default suite, yargs' locales) resolve exactly as when the sources run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUILD_DIR, MANIFEST_FORMAT, MANIFEST_NAME, PROJECT_ROOT } from '../bin/cli-build.js';

/** Native or large and only needed by bench/plot: left to Node to load, when first imported. */
const EXTERNAL_PACKAGES = ['@napi-rs/canvas', 'chart.js', 'tsx'];

/**
 * `import.meta.url` becomes the source file's URL. A dependency's `import.meta.resolve` (yargs
 * has one, for `.config()` files with `extends`, which the lab does not use) resolves relative
 * specifiers from the source file too; bare ones from the bundle, i.e. from the project's
 * node_modules. Anything else under `import.meta` is refused, so new uses are noticed.
 */
function rewriteImportMeta(source, file, outDir) {
  const relative = path
    .relative(outDir, file)
    .split(path.sep)
    .map((segment) => encodeURIComponent(segment))
    .join('/');
  const sourceUrl = `new URL(${JSON.stringify(relative)}, import.meta.url).href`;
  const inDependency = file.split(path.sep).includes('node_modules');
  const leftover = /import\.meta(?!\.url\b|\.resolve\()/.exec(source);
  if (leftover || (!inDependency && source.includes('import.meta.resolve('))) {
    throw new Error(`${file}: this use of import.meta is not supported by the CLI build`);
  }
  return source
    .replaceAll('import.meta.url', sourceUrl)
    .replaceAll(
      'import.meta.resolve(',
      `((specifier) => /^(\\.{1,2}\\/|\\/|file:)/.test(specifier) ? new URL(specifier, ${sourceUrl}).href : import.meta.resolve(specifier))(`,
    );
}

function importMetaPlugin(outDir) {
  return {
    name: 'keep-import-meta-url',
    setup(build) {
      build.onLoad({ filter: /\.(ts|mts|js|mjs)$/ }, async (args) => {
        const source = await fs.promises.readFile(args.path, 'utf8');
        if (!source.includes('import.meta')) return undefined;
        const loader = /\.m?ts$/.test(args.path) ? 'ts' : 'js';
        return { contents: rewriteImportMeta(source, args.path, outDir), loader };
      });
    },
  };
}

function statInputs(root, files) {
  return files.map((file) => {
    const stat = fs.statSync(path.resolve(root, file));
    return [path.relative(root, path.resolve(root, file)), stat.mtimeMs, stat.size];
  });
}

/**
 * One build into `outDir`; returns the manifest's inputs, or undefined if a source changed while
 * it was being read (the caller tries again).
 */
async function buildOnce(esbuild, outDir) {
  const startedMs = Date.now();
  fs.rmSync(path.join(outDir, MANIFEST_NAME), { force: true });
  fs.rmSync(outDir, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: PROJECT_ROOT,
    entryPoints: { main: 'src/cli/start.ts' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    // No syntax lowering: the dependencies run unlowered on Node 20 when not bundled, and
    // lowering would turn regex literals into RegExp constructor calls run at start-up.
    target: 'esnext',
    outdir: outDir,
    external: EXTERNAL_PACKAGES,
    // Bundled CommonJS (cli-progress) may call require() on Node built-ins.
    banner: {
      js: "import { createRequire as __qedlabCreateRequire } from 'node:module'; const require = __qedlabCreateRequire(import.meta.url);",
    },
    metafile: true,
    logLevel: 'warning',
    plugins: [importMetaPlugin(outDir)],
  });
  for (const output of Object.keys(result.metafile.outputs)) {
    if (path.dirname(path.resolve(PROJECT_ROOT, output)) !== outDir) {
      throw new Error(`build output ${output} is not directly in ${outDir}`);
    }
  }
  // Besides the bundled modules: what shapes their compilation (this script, esbuild's reading
  // of tsconfig.json, package.json's module type).
  const files = [
    ...Object.keys(result.metafile.inputs),
    path.relative(PROJECT_ROOT, new URL(import.meta.url).pathname),
    'tsconfig.json',
    'package.json',
  ];
  const inputs = statInputs(PROJECT_ROOT, files);
  if (inputs.some(([, mtimeMs]) => mtimeMs >= startedMs)) return undefined;
  return inputs;
}

export async function buildCli(outDir = BUILD_DIR) {
  const resolvedOut = path.resolve(outDir);
  if (path.dirname(path.dirname(resolvedOut)) !== PROJECT_ROOT) {
    // The rewritten import.meta.url values are relative; the depth is what keeps
    // `new URL('../../package.json', import.meta.url)`-style paths right for bundled code too.
    throw new Error(`--out must be two levels below the project root (like dist/cli): ${outDir}`);
  }
  const esbuild = await import('esbuild');
  for (let attempt = 0; attempt < 3; attempt++) {
    const inputs = await buildOnce(esbuild, resolvedOut);
    if (!inputs) continue;
    const manifest = {
      format: MANIFEST_FORMAT,
      entry: 'main.js',
      root: path.relative(resolvedOut, PROJECT_ROOT),
      esbuild: esbuild.version,
      inputs,
    };
    const file = path.join(resolvedOut, MANIFEST_NAME);
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(manifest)}\n`);
    fs.renameSync(`${file}.tmp`, file);
    return { inputs: inputs.length };
  }
  throw new Error('sources kept changing during the build; run `npm run build` again');
}

if (process.argv[1] && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  const outIndex = process.argv.indexOf('--out');
  const outDir = outIndex > 0 ? process.argv[outIndex + 1] : BUILD_DIR;
  try {
    const { inputs } = await buildCli(outDir);
    process.stderr.write(
      `qedlab: built the CLI into ${path.relative('.', outDir)} (${inputs} inputs)\n`,
    );
  } catch (error) {
    // An install must not fail for want of the fast path: bin/qedlab.js runs the sources instead.
    process.stderr.write(`qedlab: CLI build failed, the CLI will run from source: ${error}\n`);
    process.exitCode = process.argv.includes('--strict') ? 1 : 0;
  }
}
