import type { CommandModule } from 'yargs';
import * as create from './create.ts';

/**
 * Every `qedlab` sub-command; each module exports command, describe, builder and handler.
 * (yargs' CommandModule generics do not unify across modules with different argument types.)
 */
export const COMMANDS = [create] as unknown as readonly CommandModule[];
