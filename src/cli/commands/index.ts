import type { CommandModule } from 'yargs';
import * as bench from './bench.ts';
import * as check from './check.ts';
import * as compare from './compare.ts';
import * as crash from './crash.ts';
import * as create from './create.ts';
import * as fuzz from './fuzz.ts';
import * as info from './info.ts';
import * as io from './io.ts';
import * as map from './map.ts';
import * as plot from './plot.ts';
import * as run from './run.ts';
import * as snapshot from './snapshot.ts';
import * as validate from './validate.ts';
import * as variants from './variants.ts';

/**
 * Every `qedlab` sub-command; each module exports command, describe, builder and handler.
 * (yargs' CommandModule generics do not unify across modules with different argument types.)
 */
export const COMMANDS = [
  create,
  io,
  check,
  info,
  map,
  bench,
  run,
  compare,
  plot,
  snapshot,
  crash,
  fuzz,
  validate,
  variants,
] as unknown as readonly CommandModule[];
