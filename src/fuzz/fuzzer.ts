/**
 * Malformed-image fuzzing: each iteration clones a seed image, applies 1–3 seeded metadata
 * mutations, and drives it through what a user would do — `qemu-img check` (open for check, no
 * repair), a writable open (QED's dirty check and qcow2's dirty repair run there), check,
 * reads, writes, map, a repairing check and close — on a budgeted device (budget-device.ts).
 *
 * Allowed outcomes: nothing goes wrong, the engine repairs, or a LabError with a one-line
 * message. Defects: any other exception (an engine bug: a TypeError, a RangeError from a huge
 * allocation, an internal invariant), a budget hit (unbounded work or memory), or a multi-line
 * error message. Every iteration is reproducible from (format, seed, iteration).
 */
import { SimClock } from '../device/clock.ts';
import { MeteredDevice } from '../device/metered-device.ts';
import { getDriver } from '../formats/registry.ts';
import type { ImageFormat } from '../formats/types.ts';
import { LabError } from '../util/errors.ts';
import { Rng } from '../util/rng.ts';
import { BudgetDevice, BudgetExceededError } from './budget-device.ts';
import { type AppliedMutation, MUTATION_KINDS, mutate } from './mutations.ts';
import { type SeedImage, seedImages } from './seed-images.ts';

export type FuzzStep =
  | 'check-open'
  | 'check'
  | 'open'
  | 'check-after-open'
  | 'read'
  | 'write'
  | 'map'
  | 'repair'
  | 'close';

export type DefectKind = 'exception' | 'budget' | 'multi-line-message';

export interface FuzzDefect {
  kind: DefectKind;
  iteration: number;
  seedImage: string;
  step: FuzzStep;
  message: string;
  mutations: AppliedMutation[];
  /** The mutated image as it was before any step ran. */
  image: Uint8Array;
}

export interface FuzzReport {
  format: string;
  seed: number;
  iterations: number;
  /** Iterations where no step raised anything. */
  clean: number;
  /** Iterations whose repairing check fixed something, or whose writable open repaired. */
  repaired: number;
  /** Iterations ending in at least one LabError (and no defect). */
  labErrors: number;
  defects: number;
  /** `step: CODE` → count, over every LabError raised. */
  errorKinds: Record<string, number>;
  /** Defects per class (`kind at step: message` with numbers elided). */
  defectClasses: Record<string, number>;
  /** Iterations per mutation kind. */
  mutationKinds: Record<string, number>;
  /** Up to `keepDefects` defects in full. */
  defectSamples: FuzzDefect[];
}

export interface FuzzOptions {
  format: string;
  iterations: number;
  seed: number;
  /** Run only this iteration (reproduction). */
  only?: number;
  /** First iteration number (a bench splits a run across workers). */
  start?: number;
  keepDefects?: number;
  onProgress?: (done: number) => void;
  /** Called after every iteration (the bench samples memory here). */
  onIteration?: (iteration: number) => void;
}

export function runFuzz(options: FuzzOptions): FuzzReport {
  const seeds = seedImages(options.format);
  const report: FuzzReport = {
    format: options.format,
    seed: options.seed,
    iterations: 0,
    clean: 0,
    repaired: 0,
    labErrors: 0,
    defects: 0,
    errorKinds: {},
    defectClasses: {},
    mutationKinds: Object.fromEntries(MUTATION_KINDS.map((k) => [k, 0])),
    defectSamples: [],
  };
  const keep = options.keepDefects ?? 20;
  const first = options.only ?? options.start ?? 0;
  const last = options.only ?? first + options.iterations - 1;
  for (let i = first; i <= last; i++) {
    runIteration(seeds, options, i, report, keep);
    report.iterations++;
    options.onIteration?.(i);
    if (options.onProgress && report.iterations % 1000 === 0) options.onProgress(report.iterations);
  }
  return report;
}

/** Adds `b`'s counts to `a` (reports of disjoint iteration ranges of one run). */
export function mergeFuzzReports(a: FuzzReport, b: FuzzReport, keepDefects = 20): FuzzReport {
  const add = (x: Record<string, number>, y: Record<string, number>) => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return {
    format: a.format,
    seed: a.seed,
    iterations: a.iterations + b.iterations,
    clean: a.clean + b.clean,
    repaired: a.repaired + b.repaired,
    labErrors: a.labErrors + b.labErrors,
    defects: a.defects + b.defects,
    errorKinds: add(a.errorKinds, b.errorKinds),
    defectClasses: add(a.defectClasses, b.defectClasses),
    mutationKinds: add(a.mutationKinds, b.mutationKinds),
    defectSamples: [...a.defectSamples, ...b.defectSamples].slice(0, keepDefects),
  };
}

/** The seed of iteration i: independent of every other iteration, so one can be re-run alone. */
export function iterationSeed(seed: number, iteration: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(iteration + 1, 0xc2b2ae35)) >>> 0;
}

function runIteration(
  seeds: readonly SeedImage[],
  options: FuzzOptions,
  iteration: number,
  report: FuzzReport,
  keep: number,
): void {
  const rng = new Rng(iterationSeed(options.seed, iteration));
  const seed = seeds[iteration % seeds.length] as SeedImage;
  const device = seed.bytes.clone();
  const mutations: AppliedMutation[] = [];
  const count = 1 + rng.nextInt(3);
  for (let m = 0; m < count; m++) {
    const applied = mutate(seed, device, rng);
    mutations.push(applied);
    report.mutationKinds[applied.kind] = (report.mutationKinds[applied.kind] ?? 0) + 1;
  }
  const pristine = device.clone();
  const driver = getDriver(options.format);
  const budget = new BudgetDevice(device);
  let labError = false;
  let repaired = false;
  let defect: FuzzDefect | undefined;

  /** Runs one step; false when it raised (so dependent steps are skipped). */
  const step = (name: FuzzStep, body: () => void): boolean => {
    if (defect) return false;
    try {
      body();
      return true;
    } catch (error) {
      const base = { iteration, seedImage: seed.label, step: name, mutations };
      if (error instanceof LabError) {
        const key = `${name}: ${error.code}`;
        report.errorKinds[key] = (report.errorKinds[key] ?? 0) + 1;
        labError = true;
        if (error.message.includes('\n')) {
          defect = {
            ...base,
            kind: 'multi-line-message',
            message: error.message,
            image: pristine.toBytes(),
          };
        }
      } else if (error instanceof BudgetExceededError) {
        defect = {
          ...base,
          kind: 'budget',
          message: `${error.limit}: ${error.message}`,
          image: pristine.toBytes(),
        };
      } else {
        const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        defect = { ...base, kind: 'exception', message, image: pristine.toBytes() };
      }
      return false;
    }
  };

  const open = (readOnly: boolean, forCheck: boolean): ImageFormat => {
    const clock = new SimClock();
    return driver.open({ device: new MeteredDevice(budget, { clock }), readOnly, forCheck, clock });
  };

  // qemu-img check: open for check, read-only, no repair.
  step('check-open', () => {
    const image = open(true, true);
    step('check', () => {
      image.check?.('none');
    });
  });

  let image: ImageFormat | undefined;
  const writesBefore = budget.writeOps;
  if (
    step('open', () => {
      image = open(false, false);
    })
  ) {
    const opened = image as ImageFormat;
    // A writable open that wrote anything repaired something (QED's check, qcow2's rebuild).
    if (budget.writeOps > writesBefore) repaired = true;
    step('check-after-open', () => {
      opened.check?.('none');
    });
    const size = opened.virtualSizeBytes;
    for (let r = 0; r < 3; r++) {
      const [offset, length] = randomRange(rng, size);
      step('read', () => {
        opened.read(offset, length);
      });
    }
    for (let w = 0; w < 2; w++) {
      const [offset, length] = randomRange(rng, size);
      step('write', () => {
        opened.write(offset, new Uint8Array(length).fill(0xe7));
      });
    }
    step('map', () => {
      opened.map();
    });
    step('repair', () => {
      const result = opened.check?.('all');
      if (result && result.corruptionsFixed + result.leaksFixed > 0) repaired = true;
    });
    step('close', () => {
      opened.close();
    });
  }

  if (defect) {
    report.defects++;
    const key = `${defect.kind} at ${defect.step}: ${defect.message.split('\n')[0]?.replace(/\d+/g, 'N')}`;
    report.defectClasses[key] = (report.defectClasses[key] ?? 0) + 1;
    if (report.defectSamples.length < keep) report.defectSamples.push(defect);
  } else if (labError) {
    report.labErrors++;
  } else if (repaired) {
    report.repaired++;
  } else {
    report.clean++;
  }
}

/** A 512-aligned range inside the image (or an empty one for a tiny image). */
function randomRange(rng: Rng, sizeBytes: number): [number, number] {
  const sectors = Math.floor(sizeBytes / 512);
  if (sectors === 0) return [0, 0];
  const length = Math.min(sectors, 1 + rng.nextInt(128));
  const offset = rng.nextInt(sectors - length + 1);
  return [offset * 512, length * 512];
}
