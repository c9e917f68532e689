/**
 * bench:crash — the crash-consistency explorer at scale: for each baseline format (QED, qcow2)
 * every default crash workload, without and with a raw backing file, over seeds until at least
 * 10,000 crash states per format (and for qcow2 with lazy refcounts) have been verified; then
 * every flush mutant. Prints states,
 * in-order prefixes, violations, QEMU's own behaviours by class, and mutants caught.
 *
 *   npm run bench:crash [-- --states N --per-run N]
 */
import { DEFAULT_CRASH_WORKLOADS } from '../src/crash/crash-workloads.ts';
import { type ExploreResult, exploreCrashStates } from '../src/crash/explorer.ts';
import { FLUSH_MUTANTS } from '../src/crash/flush-mutants.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${name}: expected a positive integer`);
  return value;
}

const target = arg('states', 10_000);
const perRun = arg('per-run', 700);

interface Totals {
  runs: number;
  states: number;
  prefixes: number;
  violations: number;
  qemu: Record<string, number>;
  violationClasses: Record<string, number>;
}

function add(t: Totals, r: ExploreResult): void {
  t.runs++;
  t.states += r.statesExplored;
  t.prefixes += r.prefixStates;
  t.violations += r.violations;
  for (const [key, n] of Object.entries(r.byClass)) {
    const into = key.startsWith('qemu:') ? t.qemu : t.violationClasses;
    into[key] = (into[key] ?? 0) + n;
  }
}

const line = (s: string) => process.stdout.write(`${s}\n`);

// The two baselines, and qcow2 with lazy refcounts (a variant keeping QEMU's on-disk format).
const CONFIGS: ReadonlyArray<{ format: string; variant: string }> = [
  { format: 'qed', variant: 'qemu' },
  { format: 'qcow2', variant: 'qemu' },
  { format: 'qcow2', variant: 'lazy-refcounts' },
];

for (const { format, variant } of CONFIGS) {
  const started = performance.now();
  const totals: Totals = {
    runs: 0,
    states: 0,
    prefixes: 0,
    violations: 0,
    qemu: {},
    violationClasses: {},
  };
  const label = variant === 'qemu' ? format : `${format}:${variant}`;
  line(`== ${label}${variant === 'qemu' ? ' (baseline, QEMU 7.2 orderings)' : ''}`);
  line('workload        backing  seed  epochs  states  prefixes  violations  qemu-behaviour');
  for (let seed = 1; totals.states < target; seed++) {
    for (const workload of DEFAULT_CRASH_WORKLOADS) {
      for (const backing of [false, true]) {
        if (totals.states >= target) break;
        const r = exploreCrashStates(
          { format, variant, workload, seed, backing },
          { maxStates: perRun },
        );
        add(totals, r);
        line(
          `${workload.padEnd(16)}${String(backing).padEnd(9)}${String(seed).padStart(4)}` +
            `${String(r.epochs).padStart(8)}${String(r.statesExplored).padStart(8)}` +
            `${String(r.prefixStates).padStart(10)}${String(r.violations).padStart(12)}` +
            `${String(r.qemuBehaviourStates).padStart(16)}`,
        );
        for (const f of r.failures.filter((x) => x.class === 'violation')) {
          line(`  VIOLATION ${f.failure.kind}: ${f.failure.message} (${f.description})`);
        }
      }
    }
  }
  line(
    `${label}: ${totals.states} crash states (${totals.prefixes} in-order prefixes, ` +
      `${totals.states - totals.prefixes} subsets/reorderings) in ${totals.runs} runs: ` +
      `${totals.violations} violations`,
  );
  for (const [k, n] of Object.entries(totals.violationClasses)) line(`  ${k}: ${n}`);
  line(
    `  states showing QEMU's own behaviour: ${Object.values(totals.qemu).reduce((a, b) => a + b, 0)}`,
  );
  for (const [k, n] of Object.entries(totals.qemu)) line(`    ${k}: ${n}`);
  line(`  ${((performance.now() - started) / 1000).toFixed(1)} s wall\n`);
}

const MUTANT_WORKLOADS: Record<string, string> = {
  'qed-l2-before-data-flush': 'mixed',
  'qed-l1-before-l2-flush': 'sparse',
  'qed-freelist-no-unmap-sync': 'discard-churn',
  'qcow2-l1-before-l2-flush': 'mixed',
  'qcow2-l2-before-refblock-flush': 'mixed',
};
line('== mutants (one flush removed)');
let caught = 0;
for (const m of FLUSH_MUTANTS) {
  const format = m.formats[0] as string;
  const workload = MUTANT_WORKLOADS[m.name] ?? 'mixed';
  const r = exploreCrashStates(
    { format, workload, seed: 1, mutant: m.name },
    { maxStates: Math.max(perRun, 1000) },
  );
  const isCaught = r.violations > 0;
  if (isCaught) caught++;
  const first = r.failures.find((f) => f.class === 'violation');
  const causes = Object.entries(r.violationsByCause)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  line(
    `${m.name}${m.variant ? ` (variant ${m.variant})` : ''}: ${isCaught ? 'CAUGHT' : 'missed'} — ${r.violations} violating states of ` +
      `${r.statesExplored} (${r.run.mutantDroppedFlushes} flushes removed; caused by lost: ${causes})` +
      (first ? `; first: ${first.failure.kind}: ${first.failure.message}` : ''),
  );
}
line(`mutants caught: ${caught} of ${FLUSH_MUTANTS.length}`);
