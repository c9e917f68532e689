#!/usr/bin/env node
// Runs the precompiled CLI (dist/cli, built from src by `npm install`'s `prepare` or `npm run
// build`) when it is fresh, i.e. no file it was built from has changed since; otherwise, or with
// QEDLAB_FROM_SOURCE=1, the TypeScript sources through tsx. Both run the same code
// (src/cli/start.ts): the build is only a faster start, without TypeScript to compile.
import { checkBuild } from './cli-build.js';

const build = process.env.QEDLAB_FROM_SOURCE === '1' ? undefined : checkBuild();
let main;
if (build && 'entryUrl' in build) {
  ({ main } = await import(build.entryUrl));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/start.ts'));
}
await main(process.argv.slice(2));
