/**
 * bench:fuzz — malformed-image fuzzing at scale: at least 100,000 iterations per format (QED and
 * qcow2), split over worker processes, printing outcome counts, the LabError kinds seen and every
 * defect class (exception, unbounded work, multi-line message) with a reproducer command.
 *
 *   npm run bench:fuzz [-- --iterations N --seed S --workers W]
 */
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { renderFuzzReport } from '../src/cli/commands/fuzz.ts';
import { type FuzzReport, mergeFuzzReports, runFuzz } from '../src/fuzz/fuzzer.ts';
import { FUZZ_FORMATS } from '../src/fuzz/seed-images.ts';

interface Job {
  format: string;
  start: number;
  iterations: number;
  seed: number;
}

const jobIndex = process.argv.indexOf('--job');
if (jobIndex >= 0) {
  const job = JSON.parse(process.argv[jobIndex + 1] as string) as Job;
  // Memory held after each iteration (heap + array buffers), against the level before the first:
  // an engine that keeps allocations sized by a corrupt header shows here.
  const used = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const baseline = used();
  let peak = 0;
  const report = runFuzz({
    ...job,
    keepDefects: 50,
    onIteration: (i) => {
      if (i % 16 === 0) peak = Math.max(peak, used() - baseline);
    },
  });
  // Images are not needed by the printout; keep the message small.
  for (const d of report.defectSamples) d.image = new Uint8Array(0);
  process.stdout.write(JSON.stringify({ ...report, peakMemoryBytes: peak }));
} else {
  await main();
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${name}: expected a positive integer`);
  return value;
}

/** One child process per share of the iterations (the CPU-bound loops run in parallel). */
function runJob(job: Job): Promise<FuzzReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), '--job', JSON.stringify(job)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) reject(new Error(`fuzz worker exited with ${code}`));
      else resolve(JSON.parse(out) as FuzzReport);
    });
  });
}

async function main(): Promise<void> {
  const iterations = arg('iterations', 100_000);
  const seed = arg('seed', 1);
  const workers = arg('workers', Math.max(1, Math.min(2, os.availableParallelism())));
  for (const format of FUZZ_FORMATS) {
    const started = performance.now();
    const per = Math.ceil(iterations / workers);
    const jobs: Promise<FuzzReport>[] = [];
    for (let w = 0; w < workers; w++) {
      const start = w * per;
      const n = Math.min(per, iterations - start);
      if (n > 0) jobs.push(runJob({ format, start, iterations: n, seed }));
    }
    const reports = await Promise.all(jobs);
    const peak = Math.max(
      ...reports.map((r) => (r as FuzzReport & { peakMemoryBytes: number }).peakMemoryBytes),
    );
    const merged = reports
      .slice(1)
      .reduce((a, b) => mergeFuzzReports(a, b, 50), reports[0] as FuzzReport);
    process.stdout.write(renderFuzzReport(summarizeDefects(merged)));
    process.stdout.write(
      `mutations applied: ${Object.entries(merged.mutationKinds)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}\n`,
    );
    process.stdout.write(
      `${format}: peak memory held above the start, sampled every 16 iterations: ${(peak / 2 ** 20).toFixed(1)} MiB\n` +
        `${format}: ${merged.iterations} iterations in ${((performance.now() - started) / 1000).toFixed(1)} s wall on ${workers} worker(s)\n\n`,
    );
  }
}

/** The printout lists only the first few defects in full; the classes line summarizes the rest. */
function summarizeDefects(report: FuzzReport): FuzzReport {
  return { ...report, defectSamples: report.defectSamples.slice(0, 5) };
}
