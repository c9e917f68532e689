import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { CRASH_WORKLOAD_NAMES } from '../../crash/crash-workloads.ts';
import { type ExploreResult, exploreCrashStates } from '../../crash/explorer.ts';
import { FLUSH_MUTANTS } from '../../crash/flush-mutants.ts';
import { writeReproducer } from '../../crash/reproducer.ts';
import { crashFormats } from '../../crash/variants.ts';
import { UsageError } from '../../util/errors.ts';
import { COMMAND_INFO } from './command-info.ts';

export const { command, describe } = COMMAND_INFO.crash;

export function builder(yargs: Argv) {
  return yargs
    .option('f', {
      alias: 'format',
      type: 'string',
      demandOption: true,
      describe: `format (${crashFormats().join(', ')})`,
    })
    .option('variant', {
      type: 'string',
      default: 'qemu',
      describe: 'design variant of the format',
    })
    .option('workload', {
      alias: 'w',
      type: 'string',
      default: 'mixed',
      describe: `guest program (${CRASH_WORKLOAD_NAMES.join(', ')})`,
    })
    .option('states', { type: 'number', default: 1000, describe: 'crash states to verify' })
    .option('seed', { type: 'number', default: 1, describe: 'workload and crash-state seed' })
    .option('backing', {
      type: 'boolean',
      default: false,
      describe: 'give the image a raw backing file',
    })
    .option('mutant', {
      type: 'string',
      describe: `remove one flush (${FLUSH_MUTANTS.map((m) => m.name).join(', ')})`,
    })
    .option('out', {
      type: 'string',
      default: 'qedlab-crash',
      describe: 'directory for reproducers (written only when something failed)',
    })
    .option('output', { choices: ['human', 'json'] as const, default: 'human' as const });
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

/** Exit status 1 when a violation was found; QEMU's own behaviours are reported, not failed. */
export function handler(argv: Args): void {
  if (!Number.isInteger(argv.states) || argv.states < 1 || argv.states > 10_000_000)
    throw new UsageError(`--states: expected 1..10000000, got ${argv.states}`);
  if (!Number.isInteger(argv.seed) || argv.seed < 0 || argv.seed > 0xffffffff)
    throw new UsageError(`--seed: expected a 32-bit unsigned integer, got ${argv.seed}`);
  if (!CRASH_WORKLOAD_NAMES.includes(argv.workload))
    throw new UsageError(
      `unknown crash workload '${argv.workload}' (known: ${CRASH_WORKLOAD_NAMES.join(', ')})`,
    );
  const result = exploreCrashStates(
    {
      format: argv.f,
      variant: argv.variant,
      workload: argv.workload,
      seed: argv.seed,
      backing: argv.backing,
      ...(argv.mutant === undefined ? {} : { mutant: argv.mutant }),
    },
    { maxStates: argv.states },
  );
  const written = writeReproducers(result, argv.out);
  if (argv.output === 'json') {
    process.stdout.write(`${JSON.stringify(summary(result, written), null, 1)}\n`);
  } else {
    process.stdout.write(renderHuman(result, written));
  }
  if (result.violations > 0) process.exitCode = 1;
}

function writeReproducers(result: ExploreResult, dir: string): string[] {
  if (result.failures.length === 0) return [];
  fs.mkdirSync(dir, { recursive: true });
  const counts = new Map<string, number>();
  return result.failures.map((f) => {
    const base = f.behaviour ? f.behaviour.name : `violation-${f.failure.kind}`;
    const n = (counts.get(base) ?? 0) + 1;
    counts.set(base, n);
    return writeReproducer(result.run, f, dir, `${base}-${n}`).description;
  });
}

function summary(result: ExploreResult, reproducers: string[]) {
  const c = result.run.config;
  return {
    format: c.format,
    variant: c.variant,
    workload: c.workload,
    seed: c.seed,
    backing: c.backing,
    mutant: c.mutant ?? null,
    guest_requests: result.run.commands.length,
    host_writes: result.hostOps,
    epochs: result.epochs,
    states_explored: result.statesExplored,
    prefix_states: result.prefixStates,
    violations: result.violations,
    qemu_behaviour_states: result.qemuBehaviourStates,
    by_class: result.byClass,
    mutant_flushes_removed: result.run.mutantDroppedFlushes,
    reproducers,
  };
}

function renderHuman(result: ExploreResult, reproducers: string[]): string {
  const s = summary(result, reproducers);
  const lines = [
    `${s.format}${s.variant === 'qemu' ? '' : `:${s.variant}`}${s.backing ? ' (backing file)' : ''}` +
      `${s.mutant ? ` mutant ${s.mutant} (${s.mutant_flushes_removed} flushes removed)` : ''}, ` +
      `workload ${s.workload}, seed ${s.seed}: ${s.guest_requests} guest requests, ` +
      `${s.host_writes} host writes in ${s.epochs} flush epochs`,
    `crash states explored: ${s.states_explored} (${s.prefix_states} in-order prefixes)`,
    `violations: ${s.violations}`,
    `states showing QEMU's own behaviour: ${s.qemu_behaviour_states}`,
  ];
  for (const [key, n] of Object.entries(s.by_class)) lines.push(`  ${key}: ${n}`);
  for (const f of result.failures) {
    lines.push(
      `${f.behaviour ? `qemu ${f.behaviour.name}` : 'VIOLATION'}: ${f.failure.kind}: ${f.failure.message}`,
    );
    lines.push(`  ${f.description}, minimized to ${f.survivors.length} surviving write(s)`);
  }
  for (const r of reproducers) lines.push(`reproducer: ${path.relative(process.cwd(), r) || r}`);
  return `${lines.join('\n')}\n`;
}
