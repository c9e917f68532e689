import type { CommandModule } from 'yargs';
import type { CommandName } from './command-info.ts';

/** Each command's module, imported on demand so a command loads only its own dependencies. */
export const COMMAND_LOADERS: Readonly<Record<CommandName, () => Promise<CommandModule>>> = {
  create: () => import('./create.ts') as unknown as Promise<CommandModule>,
  io: () => import('./io.ts') as unknown as Promise<CommandModule>,
  check: () => import('./check.ts') as unknown as Promise<CommandModule>,
  info: () => import('./info.ts') as unknown as Promise<CommandModule>,
  map: () => import('./map.ts') as unknown as Promise<CommandModule>,
  bench: () => import('./bench.ts') as unknown as Promise<CommandModule>,
  run: () => import('./run.ts') as unknown as Promise<CommandModule>,
  compare: () => import('./compare.ts') as unknown as Promise<CommandModule>,
  plot: () => import('./plot.ts') as unknown as Promise<CommandModule>,
  snapshot: () => import('./snapshot.ts') as unknown as Promise<CommandModule>,
  crash: () => import('./crash.ts') as unknown as Promise<CommandModule>,
  fuzz: () => import('./fuzz.ts') as unknown as Promise<CommandModule>,
  validate: () => import('./validate.ts') as unknown as Promise<CommandModule>,
  variants: () => import('./variants.ts') as unknown as Promise<CommandModule>,
};
